-- Sample data for Keiko v1. Sizes come from settings so that psql and the demo share this file:
--   PGOPTIONS='-c keiko.users=1000 -c keiko.tasks=200000' psql -f seed.sql
-- Deterministic (no random()), so two loads of the same size are identical.
INSERT INTO users (id, email, username, created_at, updated_at)
SELECT md5('user' || g)::uuid, 'user' || g || '@keiko.example', 'user_' || g,
       timestamp '2024-01-01 00:00:00' + g * interval '17 minutes 0.123456 seconds',
       timestamp '2024-06-01 00:00:00' + g * interval '1 minute'
FROM generate_series(1, coalesce(current_setting('keiko.users', true), '1000')::int) g;

INSERT INTO agents (id, owner_id, name, agent_type, status, config, created_at, updated_at)
SELECT md5('agent' || g)::uuid,
       md5('user' || (1 + g % coalesce(current_setting('keiko.users', true), '1000')::int))::uuid,
       'agent ' || g,
       (ARRAY['text_processor', 'image_generator', 'data_analyst', NULL])[1 + g % 4],
       (ARRAY['active', 'inactive'])[1 + g % 2],
       jsonb_build_object('supports_text_processing', g % 2 = 0, 'supports_image_generation', g % 3 = 0,
                          'supports_data_analysis', g % 5 = 0, 'description', 'agent number ' || g,
                          'tags', jsonb_build_array('demo', 'batch-' || g % 10)),
       timestamp '2024-02-01 00:00:00' + g * interval '1 hour',
       CASE WHEN g % 3 = 0 THEN NULL ELSE timestamp '2024-07-01 00:00:00' + g * interval '1 minute' END
FROM generate_series(1, coalesce(current_setting('keiko.agents', true), '200')::int) g;

INSERT INTO tasks (user_id, agent_id, type, params, status, timeout, retries, created_at, started_at, completed_at)
SELECT md5('user' || (1 + g % coalesce(current_setting('keiko.users', true), '1000')::int))::uuid,
       CASE WHEN g % 7 = 0 THEN NULL
            ELSE md5('agent' || (1 + g % coalesce(current_setting('keiko.agents', true), '200')::int))::uuid END,
       (ARRAY['summarize', 'render', 'analyze', NULL])[1 + g % 4],
       jsonb_build_object('urgent', g % 10 = 0, 'background', g % 10 = 1, 'input', 'document-' || g),
       (ARRAY['created', 'queued', 'running', 'finished', 'failed', 'cancelled'])[1 + g % 6],
       CASE WHEN g % 5 = 0 THEN NULL ELSE 60 * (1 + g % 10) END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE g % 3 END,
       timestamptz '2024-03-01 00:00:00+00' + g * interval '3.000123 seconds',
       CASE WHEN g % 6 >= 2 THEN timestamptz '2024-03-01 00:00:05+00' + g * interval '3 seconds' END,
       CASE WHEN g % 6 >= 3 THEN timestamptz '2024-03-01 00:01:00+00' + g * interval '3 seconds' END
FROM generate_series(1, coalesce(current_setting('keiko.tasks', true), '20000')::int) g;
