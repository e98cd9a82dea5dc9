-- MaiBot v2, the expand phase, as a Flyway migration: every table carries its tenant, and the tenant leads every key,
-- so that one id may exist in several tenants and a tenant's rows sit together in each index. Agent-scoped tables
-- carry agent_id (on agents, the agent's own id); chat messages carry their chat stream and platform.
CREATE TABLE users (
    tenant_id text NOT NULL,
    id        bigint NOT NULL,
    name      text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE agents (
    tenant_id text NOT NULL,
    id        bigint NOT NULL,
    agent_id  bigint NOT NULL,
    owner_id  bigint NOT NULL,
    name      text NOT NULL,
    config    jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE tasks (
    tenant_id text NOT NULL,
    id        bigint NOT NULL,
    agent_id  bigint NOT NULL,
    user_id   bigint NOT NULL,
    title     text NOT NULL,
    status    text NOT NULL DEFAULT 'created',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_tasks_agent ON tasks (tenant_id, agent_id);

CREATE TABLE chat_messages (
    tenant_id   text NOT NULL,
    id          bigint NOT NULL,
    agent_id    bigint NOT NULL,
    chat_stream text NOT NULL,
    platform    text NOT NULL,
    user_id     bigint NOT NULL,
    sender      text NOT NULL,
    receiver    text NOT NULL,
    content     text NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_chat_messages_stream ON chat_messages (tenant_id, chat_stream, created_at);
