-- Sealed uploads (issue 15). At submit, each uploaded object is copied on the storage server
-- (CopyObject, only while it still has the ETag the submit checked) to `sealed_key`, a key that
-- no presigned PUT names; processing, the fraud hashes, `sizeBytes` and `downloadUrl` use that
-- copy, and every read of it is conditional on `sealed_etag`.
ALTER TABLE session_files ADD COLUMN sealed_key TEXT;
ALTER TABLE session_files ADD COLUMN sealed_etag TEXT;

-- Files submitted before this migration were never copied: their upload object is their only
-- copy, so it stands as the sealed one (unprotected, as it was) and is never purged as an upload.
UPDATE session_files SET sealed_key = object_key WHERE size_bytes > 0;

-- The sweep deletes the upload originals of every session once its upload URLs have expired; it
-- looks for the sessions not purged yet.
CREATE INDEX sessions_unpurged ON sessions(expires_at) WHERE objects_purged_at IS NULL;
