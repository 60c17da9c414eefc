package dev.flux.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Temporary directories for the stores of one benchmark fork, in the system's temp dir. A benchmark
 * deletes its own in its teardown; those still there when the fork's JVM exits are deleted then, because
 * JMH skips the trial's teardown when a benchmark throws (a full disk, say) or the run is interrupted,
 * and a durable store's files can take gigabytes.
 */
public final class Directories {
    private static final Set<Path> UNDELETED = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(
                () -> UNDELETED.forEach(Directories::deleteQuietly), "flux-benchmarks-temp-cleanup"));
    }

    private Directories() {
    }

    /**
     * A new empty directory in the system's temp dir, deleted when the JVM exits if {@link #delete} has not
     * deleted it before.
     *
     * @param prefix the start of its name, which says which benchmark made it
     * @throws UncheckedIOException when it cannot be created (the temp dir is missing or full)
     */
    public static Path create(String prefix) {
        try {
            Path directory = Files.createTempDirectory(prefix);
            UNDELETED.add(directory);
            return directory;
        } catch (IOException e) {
            throw new UncheckedIOException("could not create a temporary directory for a benchmark store in "
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage()
                    + "; free space there, or point -Djava.io.tmpdir at another disk", e);
        }
    }

    /**
     * Deletes {@code directory} and everything in it; nothing when it is null or already gone.
     *
     * @throws UncheckedIOException when its files cannot be listed
     */
    public static void delete(Path directory) {
        if (directory == null) {
            return;
        }
        if (!Files.exists(directory)) {
            UNDELETED.remove(directory);
            return;
        }
        try (Stream<Path> files = Files.walk(directory)) {
            files.sorted(Comparator.reverseOrder()).forEach(file -> file.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete the benchmark directory " + directory, e);
        }
        UNDELETED.remove(directory);
    }

    private static void deleteQuietly(Path directory) {
        try {
            delete(directory);
        } catch (RuntimeException e) {
            System.err.println("could not delete " + directory + ", delete it by hand: " + e);
        }
    }
}
