package dev.flux.mongo;

import org.testcontainers.junit.jupiter.Testcontainers;

/** {@link MongoMultiProcessTest} against a real MongoDB replica set in Docker; skipped where there is no Docker. */
@Testcontainers(disabledWithoutDocker = true)
class MongoMultiProcessContainerTest extends MongoMultiProcessTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.container();
    }
}
