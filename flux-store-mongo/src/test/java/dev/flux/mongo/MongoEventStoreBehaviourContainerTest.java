package dev.flux.mongo;

import org.testcontainers.junit.jupiter.Testcontainers;

/** {@link MongoEventStoreBehaviourTest} against a real MongoDB replica set in Docker; skipped where there is no Docker. */
@Testcontainers(disabledWithoutDocker = true)
class MongoEventStoreBehaviourContainerTest extends MongoEventStoreBehaviourTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.container();
    }
}
