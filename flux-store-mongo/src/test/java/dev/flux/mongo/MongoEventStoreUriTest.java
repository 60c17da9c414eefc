package dev.flux.mongo;

import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/** {@link MongoEventStoreTest} against the server {@code FLUX_MONGO_URI} names; skipped when it is not set. */
@EnabledIfEnvironmentVariable(named = MongoTestServer.URI_VARIABLE, matches = ".+")
class MongoEventStoreUriTest extends MongoEventStoreTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.fromEnvironment();
    }
}
