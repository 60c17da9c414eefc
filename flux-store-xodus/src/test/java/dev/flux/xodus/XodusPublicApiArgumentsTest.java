package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.snapshot.Snapshot;
import dev.flux.test.ArgumentSweep;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every public constructor and method of flux-store-xodus refuses a null, a blank string, a negative
 * number, an empty list and a null element at once, with an {@link IllegalArgumentException} naming
 * the parameter, and leaves the store (or builder) as it was; see {@link ArgumentSweep}.
 */
@Timeout(60)
class XodusPublicApiArgumentsTest {
    private static final byte[] BODY = "{\"n\":1}".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    private final List<AutoCloseable> opened = new ArrayList<>();

    @AfterEach
    void closeStores() throws Exception {
        for (AutoCloseable store : opened) {
            store.close();
        }
    }

    private <T extends AutoCloseable> T opened(T store) {
        opened.add(store);
        return store;
    }

    @Test
    void everyPublicMemberRefusesBadArgumentsAtOnceNamingTheParameter() {
        XodusOptions options = XodusOptions.builder().cacheSize(8L << 20).build();
        XodusEventStore store = opened(new XodusEventStore(dir.resolve("events"), options));
        XodusOffsetStore offsets = opened(new XodusOffsetStore(dir.resolve("offsets"), options));
        XodusSnapshotStore snapshots = opened(new XodusSnapshotStore(dir.resolve("snapshots"), options));
        store.append("Sample-1", ExpectedVersion.NO_STREAM, List.of(EventData.of("Sampled", BODY, Map.of())));
        offsets.save("sample", 7);
        snapshots.save(new Snapshot("Sample-1", 0, "Sample#1", BODY, Instant.now()));
        AtomicInteger directories = new AtomicInteger();
        List<Class<?>> api = ArgumentSweep.publicClassesBeside(XodusEventStore.class, "dev.flux.xodus.");
        assertEquals(List.of(XodusEventStore.class, XodusOffsetStore.class, XodusOptions.class, XodusOptions.Builder.class,
                XodusSnapshotStore.class), api);

        ArgumentSweep sweep = ArgumentSweep.of(api)
                .sample(String.class, () -> "sample")
                .sample("streamId", String.class, () -> "Sample-1")
                .sample("category", String.class, () -> "Sample")
                .sample("expectedVersion", long.class, () -> ExpectedVersion.ANY)
                // a directory of its own for each constructor call, in case one opens a store after all
                .sample(Path.class, () -> dir.resolve("swept-" + directories.incrementAndGet()))
                .sample(XodusOptions.class, () -> options)
                .sample(Duration.class, () -> Duration.ofSeconds(1))
                .sample(List.class, () -> List.of(EventData.of("Sampled", BODY, Map.of())))
                .sample(UUID.class, UUID::randomUUID)
                .sample(Runnable.class, () -> () -> { })
                .sample(Snapshot.class, () -> new Snapshot("Sample-1", 1, "Sample#1", BODY, Instant.now()))
                .receiver(XodusEventStore.class, () -> store, events -> events.readAll(0, 100))
                .receiver(XodusOffsetStore.class, () -> offsets, stored -> stored.find("sample"))
                .receiver(XodusSnapshotStore.class, () -> snapshots, stored -> stored.load("Sample-1"))
                .receiver(XodusOptions.Builder.class, () -> options.toBuilder(), builder -> builder.build().toString())
                .alias("afterPosition", "position")
                .alias("fromVersion", "version");
        sweep.assertNoProblems(61);
    }
}
