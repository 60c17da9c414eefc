package dev.flux.mongo;

import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/** {@link MongoSubscriptionClaimTest} against the server {@code FLUX_MONGO_URI} names; skipped when it is not set. */
@EnabledIfEnvironmentVariable(named = MongoTestServer.URI_VARIABLE, matches = ".+")
class MongoSubscriptionClaimUriTest extends MongoSubscriptionClaimTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.fromEnvironment();
    }
}
