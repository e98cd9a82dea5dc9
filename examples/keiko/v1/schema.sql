-- Keiko v1 (1.9.x): the schema the application runs on before the migration.
CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       varchar(255) NOT NULL UNIQUE,
    username    varchar(100) NOT NULL,
    created_at  timestamp NOT NULL DEFAULT now(),
    updated_at  timestamp NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    uuid NOT NULL REFERENCES users (id),
    name        varchar(100) NOT NULL,
    agent_type  varchar(50),
    status      varchar(20) NOT NULL DEFAULT 'inactive',
    config      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamp NOT NULL DEFAULT now(),
    updated_at  timestamp
);

CREATE TABLE tasks (
    id           bigserial PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    agent_id     uuid REFERENCES agents (id),
    type         varchar(50),
    params       jsonb NOT NULL DEFAULT '{}',
    status       varchar(20) NOT NULL DEFAULT 'created',
    timeout      integer,
    retries      integer,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    completed_at timestamptz
);
CREATE INDEX tasks_user ON tasks (user_id);
