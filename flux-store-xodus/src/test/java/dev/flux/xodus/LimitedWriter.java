package dev.flux.xodus;

import dev.flux.snapshot.Snapshot;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The child process of {@link XodusDiskFullTest}, run where no file may grow past a limit (as on a full
 * disk): writes until a write fails, then reports what each store said. It prints one line per outcome:
 * {@code ACK ...} for each acknowledged write, {@code FAILED <message>} for the first failure of each
 * writing thread, {@code REFUSED <message>} for that thread's next try ({@code ACCEPTED} if it was taken),
 * then {@code READ <events>} or {@code READFAIL <message>} (the event store), and {@code CLOSED} or
 * {@code CLOSEFAIL <message>}.
 *
 * <p>Arguments: {@code events <directory> <threads> <padding bytes> <events per save, 0 for 1 to 5>} (saves as
 * {@link CrashingWriter}'s, and its {@code ACK} lines), {@code offsets <directory>}, {@code snapshots
 * <directory>} ({@code ACK <name> <value>}), or {@code open <directory>} ({@code OPENED} or {@code OPENFAIL
 * <message>}).
 */
public final class LimitedWriter {
    private LimitedWriter() {
    }

    public static void main(String[] args) throws InterruptedException {
        Path directory = Path.of(args[1]);
        switch (args[0]) {
            case "events" -> events(directory, Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            case "offsets" -> offsets(directory);
            case "snapshots" -> snapshots(directory);
            case "open" -> open(directory);
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        System.exit(0);
    }

    private static void events(Path directory, int threads, int padding, int eventsPerSave) throws InterruptedException {
        XodusEventStore store = new XodusEventStore(directory);
        AtomicLong nextSave = new AtomicLong();
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String streamId = "limited-" + t;
            Thread writer = new Thread(() -> {
                long version = -1;
                while (true) {
                    long save = nextSave.getAndIncrement();
                    int size = eventsPerSave > 0 ? eventsPerSave : 1 + (int) (save % 5);
                    try {
                        version = store.append(streamId, version, CrashingWriter.save(save, size, padding));
                    } catch (RuntimeException e) {
                        print("FAILED " + e.getMessage());
                        break;
                    }
                    print("ACK " + save + " " + streamId + " " + version + " " + size);
                }
                try {
                    store.append(streamId, version, CrashingWriter.save(nextSave.getAndIncrement(), 1, 0));
                    print("ACCEPTED");
                } catch (RuntimeException e) {
                    print("REFUSED " + e.getMessage());
                }
            }, "limited-writer-" + t);
            writers.add(writer);
            writer.start();
        }
        for (Thread writer : writers) {
            writer.join();
        }
        try {
            long events = 0;
            for (long after = 0, read; (read = store.readAll(after, 1_000).size()) > 0; after += read) {
                events += read;
            }
            print("READ " + events);
        } catch (RuntimeException e) {
            print("READFAIL " + e.getMessage());
        }
        close(store);
    }

    private static void offsets(Path directory) {
        XodusOffsetStore offsets = new XodusOffsetStore(directory);
        String padding = "x".repeat(2_000);
        long position = 1;
        try {
            for (; ; position++) {
                offsets.save("subscription-" + position % 20 + padding, position);
                print("ACK subscription-" + position % 20 + " " + position);
            }
        } catch (RuntimeException e) {
            print("FAILED " + e.getMessage());
        }
        try {
            offsets.save("subscription-0" + padding, position + 1);
            print("ACCEPTED");
        } catch (RuntimeException e) {
            print("REFUSED " + e.getMessage());
        }
        close(offsets);
    }

    private static void snapshots(Path directory) {
        XodusSnapshotStore snapshots = new XodusSnapshotStore(directory);
        byte[] state = ("{\"padding\":\"" + "x".repeat(20_000) + "\"}").getBytes(StandardCharsets.UTF_8);
        long version = 0;
        try {
            for (; ; version++) {
                snapshots.save(new Snapshot("Account-" + version % 20, version, "Account", state, Instant.now()));
                print("ACK Account-" + version % 20 + " " + version);
            }
        } catch (RuntimeException e) {
            print("FAILED " + e.getMessage());
        }
        try {
            snapshots.save(new Snapshot("Account-0", version + 1, "Account", state, Instant.now()));
            print("ACCEPTED");
        } catch (RuntimeException e) {
            print("REFUSED " + e.getMessage());
        }
        close(snapshots);
    }

    private static void open(Path directory) {
        try (XodusEventStore store = new XodusEventStore(directory)) {
            print("OPENED");
        } catch (RuntimeException e) {
            print("OPENFAIL " + e.getMessage());
        }
    }

    private static void close(AutoCloseable store) {
        try {
            store.close();
            print("CLOSED");
        } catch (Exception e) {
            print("CLOSEFAIL " + e.getMessage());
        }
    }

    private static void print(String line) {
        synchronized (System.out) {
            System.out.println(line.replace('\n', ' '));
            System.out.flush();
        }
    }
}
