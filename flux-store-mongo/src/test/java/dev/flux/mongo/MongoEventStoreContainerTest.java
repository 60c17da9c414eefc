package dev.flux.mongo;

import org.testcontainers.junit.jupiter.Testcontainers;

/** {@link MongoEventStoreTest} against a real MongoDB replica set in Docker; skipped where there is no Docker. */
@Testcontainers(disabledWithoutDocker = true)
class MongoEventStoreContainerTest extends MongoEventStoreTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.container();
    }
}
