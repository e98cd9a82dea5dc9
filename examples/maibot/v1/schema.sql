-- MaiBot v1: one deployment serves one team. Every user belongs to an organisation (org), which v2 makes the tenant;
-- agents, tasks and chat messages belong to a user and so, through that user, to an organisation.
CREATE TABLE users (
    id    bigint PRIMARY KEY,
    name  text NOT NULL,
    org   text NOT NULL
);

CREATE TABLE agents (
    id       bigint PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name     text NOT NULL,
    config   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX agents_owner ON agents (owner_id);

CREATE TABLE tasks (
    id       bigint PRIMARY KEY,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    title    text NOT NULL,
    status   text NOT NULL DEFAULT 'created'
);
CREATE INDEX tasks_user ON tasks (user_id);
CREATE INDEX tasks_agent ON tasks (agent_id);

-- sender and receiver are platform accounts, '<platform>:<account>' (qq:10001, discord:4711, ...).
CREATE TABLE chat_messages (
    id         bigint PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id   bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    sender     text NOT NULL,
    receiver   text NOT NULL,
    content    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_user ON chat_messages (user_id);
CREATE INDEX chat_messages_agent ON chat_messages (agent_id);
