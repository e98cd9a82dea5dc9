-- Sample data for MaiBot v1. Sizes come from settings, so that psql and the tests share this file:
--   PGOPTIONS='-c maibot.orgs=5 -c maibot.users=200 -c maibot.tasks=10000 -c maibot.messages=50000' psql -f seed.sql
-- Deterministic (no random()), so two loads of the same size are identical. User u belongs to org-(1 + (u - 1) % orgs)
-- and owns the agents u and u + users; a user's tasks and messages go to the user's own agents.
INSERT INTO users (id, name, org)
SELECT u, 'user ' || u, 'org-' || (1 + (u - 1) % coalesce(current_setting('maibot.orgs', true), '3')::int)
FROM generate_series(1, coalesce(current_setting('maibot.users', true), '30')::int) u;

INSERT INTO agents (id, owner_id, name, config)
SELECT a, 1 + (a - 1) % n.users, 'agent ' || a,
       jsonb_build_object('model', (ARRAY['mai-small', 'mai-large'])[1 + a % 2], 'temperature', round((a % 10) / 10.0, 1),
                          'persona', 'helper number ' || a)
FROM (SELECT coalesce(current_setting('maibot.users', true), '30')::int AS users) n,
     generate_series(1, 2 * n.users) a;

INSERT INTO tasks (id, user_id, agent_id, title, status)
SELECT g, 1 + (g - 1) % n.users, 1 + (g - 1) % n.users + n.users * (g % 2), 'task ' || g,
       (ARRAY['created', 'running', 'done', 'failed'])[1 + g % 4]
FROM (SELECT coalesce(current_setting('maibot.users', true), '30')::int AS users) n,
     generate_series(1, coalesce(current_setting('maibot.tasks', true), '300')::int) g;

-- A user chats mostly on one platform (every fifth message on the next one), always with the bot account of the
-- agent that answers: the chat stream is sender:receiver, the platform the sender's prefix.
INSERT INTO chat_messages (id, user_id, agent_id, sender, receiver, content, created_at)
SELECT g, m.u, m.agent, m.platform || ':' || (10000 + m.u), m.platform || ':' || (90000 + m.agent), 'message ' || g,
       timestamptz '2025-01-01 00:00:00+00' + g * interval '37.000123 seconds'
FROM (SELECT coalesce(current_setting('maibot.users', true), '30')::int AS users) n,
     generate_series(1, coalesce(current_setting('maibot.messages', true), '600')::int) g,
     LATERAL (SELECT 1 + (g - 1) % n.users AS u, 1 + (g - 1) % n.users + n.users * (g % 2) AS agent,
                     (ARRAY['qq', 'discord', 'telegram'])[1 + ((g - 1) % n.users + (g % 5 = 0)::int) % 3] AS platform) m;
