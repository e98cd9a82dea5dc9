-- Keiko v2 (2.0.x), the expand phase, as a Flyway migration: renamed and new columns with their defaults.
CREATE TYPE task_status AS ENUM ('pending', 'running', 'completed', 'failed', 'cancelled');
CREATE TYPE task_priority AS ENUM ('low', 'normal', 'high');

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       varchar(255) NOT NULL UNIQUE,
    username    varchar(100) NOT NULL,
    role        varchar(50) NOT NULL DEFAULT 'user',
    last_login  timestamp,
    preferences jsonb NOT NULL DEFAULT '{}',
    created_at  timestamp NOT NULL,
    updated_at  timestamp NOT NULL
);
CREATE INDEX idx_users_role ON users (role);

CREATE TABLE agents (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL,
    name          varchar(100) NOT NULL,
    type          varchar(50) NOT NULL DEFAULT 'generic',
    status        varchar(20) NOT NULL DEFAULT 'inactive',
    capabilities  jsonb NOT NULL DEFAULT '[]',
    metadata      jsonb NOT NULL DEFAULT '{}',
    version       varchar(20) NOT NULL DEFAULT '2.0.0',
    configuration jsonb NOT NULL DEFAULT '{}',
    created_at    timestamp NOT NULL,
    updated_at    timestamp NOT NULL
);
CREATE INDEX idx_agents_capabilities ON agents USING gin (capabilities);

CREATE TABLE tasks (
    id              bigint PRIMARY KEY,
    user_id         uuid NOT NULL,
    agent_id        uuid,
    task_type       varchar(50) NOT NULL DEFAULT 'generic',
    parameters      jsonb NOT NULL DEFAULT '{}',
    status          task_status NOT NULL DEFAULT 'pending',
    priority        task_priority NOT NULL DEFAULT 'normal',
    timeout_seconds integer NOT NULL DEFAULT 300,
    retry_count     integer NOT NULL DEFAULT 0,
    metadata        jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    completed_at    timestamptz
);
CREATE INDEX idx_tasks_priority ON tasks (priority);
