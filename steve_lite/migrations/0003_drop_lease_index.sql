-- The lease sweep finds submitted sessions through sessions_state_expiry (state = ?), so this
-- index only cost every session write (each create, submit and lease renewal) an extra insert.

DROP INDEX sessions_state_lease;
