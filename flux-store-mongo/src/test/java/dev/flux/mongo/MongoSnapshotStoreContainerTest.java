package dev.flux.mongo;

import org.testcontainers.junit.jupiter.Testcontainers;

/** {@link MongoSnapshotStoreTest} against a real MongoDB replica set in Docker; skipped where there is no Docker. */
@Testcontainers(disabledWithoutDocker = true)
class MongoSnapshotStoreContainerTest extends MongoSnapshotStoreTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.container();
    }
}
