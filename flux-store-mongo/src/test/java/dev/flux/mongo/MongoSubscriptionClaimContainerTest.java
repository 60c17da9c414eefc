package dev.flux.mongo;

import org.testcontainers.junit.jupiter.Testcontainers;

/** {@link MongoSubscriptionClaimTest} against a real MongoDB replica set in Docker; skipped where there is no Docker. */
@Testcontainers(disabledWithoutDocker = true)
class MongoSubscriptionClaimContainerTest extends MongoSubscriptionClaimTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.container();
    }
}
