-- ── state-publisher: desired-state content stored once per distinct content ─────────────────────

-- Satellites with the same groups and config get the same document but for their name, revision,
-- digest and issue time. Writing a whole jsonb document per satellite made a change that touches
-- 10,000 satellites spend ~0.4 s in Postgres alone; each distinct shared part is now written once and
-- every satellite row points at it (~0.1 s for 10,000 rows on the same machine).
CREATE TABLE state_contents (
  -- sha256 of the canonical shared part
  id             text PRIMARY KEY,
  -- the document without satellite, revision, digest and issuedAt: {registries, artifacts, config}
  content        jsonb NOT NULL,
  -- "<registry>/<repository>@<digest>" of each artifact, for artifact_since
  artifact_keys  jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- A row has either its own document (written before this migration) or a content and issue time;
-- its document is then content + {satellite, revision, digest, issuedAt} (see satellite_documents).
ALTER TABLE satellite_states
  ALTER COLUMN document DROP NOT NULL,
  ADD COLUMN content_id text REFERENCES state_contents (id),
  ADD COLUMN issued_at text,
  ADD CONSTRAINT satellite_states_document_or_content CHECK (document IS NOT NULL OR (content_id IS NOT NULL AND issued_at IS NOT NULL));
CREATE INDEX satellite_states_content_idx ON satellite_states (content_id);

-- Every satellite's current desired-state document, as published on uplink.state.<satellite>.
CREATE VIEW satellite_documents AS
SELECT ss.satellite,
       coalesce(ss.document, c.content || jsonb_build_object('satellite', ss.satellite, 'revision', ss.revision, 'digest', ss.digest, 'issuedAt', ss.issued_at)) AS document
FROM satellite_states ss LEFT JOIN state_contents c ON c.id = ss.content_id;
