-- ── registration: the site account JWT last pushed to the hub ──────────────────────────────────

-- Registration pushes every site account again at start, on reconnecting to the hub and on an
-- interval, so a hub that lost its resolver directory lets its sites back in. The JWT is kept as
-- pushed (signed claims, no secret): pushing it again costs no signing, and the hub ignores it when
-- it already holds it or a newer one. NULL for sites registered before this column (encoded anew
-- at their first push).
ALTER TABLE satellites ADD COLUMN account_jwt text;
