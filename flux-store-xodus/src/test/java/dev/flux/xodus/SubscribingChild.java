package dev.flux.xodus;

import dev.flux.EventStore;
import dev.flux.feed.HttpEventSource;
import dev.flux.subscription.EventSource;
import dev.flux.subscription.Subscription;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * A child JVM for {@link SubscriptionCrashTest}: a durable subscription with its offset in an
 * {@link XodusOffsetStore}, reading either an {@link XodusEventStore} directory or a feed URL. It
 * prints {@code handled <position>} for every event its handler finishes, and {@code caught-up
 * <position>} when it has reached the position given, then exits.
 *
 * <p>Arguments: {@code local <events dir> | feed <url>}, the offsets directory, checkpoint-every, the
 * position to stop at.
 */
public final class SubscribingChild {
    public static void main(String[] args) throws Exception {
        boolean local = args[0].equals("local");
        Path offsetsDir = Path.of(args[2]);
        int checkpointEvery = Integer.parseInt(args[3]);
        long stopAt = Long.parseLong(args[4]);
        EventStore store = local ? new XodusEventStore(Path.of(args[1])) : null;
        EventSource source = local ? EventSource.all(store) : HttpEventSource.of(URI.create(args[1]), Duration.ofSeconds(1));
        try (XodusOffsetStore offsets = new XodusOffsetStore(offsetsDir)) {
            Subscription subscription = Subscription.builder(source).name("crash-test", offsets).batchSize(50)
                    .checkpointEvery(checkpointEvery).checkpointInterval(Duration.ofHours(1))
                    .errorDelay(Duration.ofMillis(20), Duration.ofMillis(200))
                    .onRecorded(event -> {
                        LockSupport.parkNanos(200_000); // slow enough to be killed mid-batch
                        System.out.println("handled " + event.position());
                    })
                    .start();
            if (subscription.awaitPosition(stopAt, Duration.ofMinutes(2))) {
                subscription.stop();
                System.out.println("caught-up " + subscription.position());
            }
        } finally {
            if (store != null) {
                store.close();
            }
        }
        System.out.flush();
    }
}
