package dev.flux.mongo;

import org.testcontainers.junit.jupiter.Testcontainers;

/** {@link MongoOffsetStoreTest} against a real MongoDB replica set in Docker; skipped where there is no Docker. */
@Testcontainers(disabledWithoutDocker = true)
class MongoOffsetStoreContainerTest extends MongoOffsetStoreTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.container();
    }
}
