package dev.flux.mongo;

import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/** {@link MongoSnapshotStoreTest} against the server {@code FLUX_MONGO_URI} names; skipped when it is not set. */
@EnabledIfEnvironmentVariable(named = MongoTestServer.URI_VARIABLE, matches = ".+")
class MongoSnapshotStoreUriTest extends MongoSnapshotStoreTest {
    @Override
    protected MongoTestServer server() {
        return MongoTestServer.fromEnvironment();
    }
}
