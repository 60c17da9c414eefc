package dev.flux.xodus;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.fail;

/** A JVM the tests start with this one's class path, whose stdout lines they watch. Close kills it. */
final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final Path stderr;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    /**
     * Starts {@code mainClass} with {@code args}.
     *
     * @param openNio whether to pass {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}, as flux's launchers do
     */
    ChildJvm(Class<?> mainClass, boolean openNio, Path stderr, String... args) throws IOException {
        this(List.of(), openNio, mainClass, stderr, args);
    }

    /**
     * Starts {@code mainClass} (with {@code --add-opens}) under bash's {@code ulimit -f}: no file it writes
     * grows past {@code kilobytes} KB. A write past it fails with {@code EFBIG} ("File too large"), as a
     * write to a full disk fails with {@code ENOSPC}; the JVM ignores the {@code SIGXFSZ} that comes with it.
     */
    static ChildJvm withFileSizeLimit(int kilobytes, Class<?> mainClass, Path stderr, String... args) throws IOException {
        return new ChildJvm(List.of("bash", "-c", "ulimit -f " + kilobytes + " && exec \"$@\"", "bash"), true, mainClass,
                stderr, args);
    }

    /** With {@code launcher} before the java command (empty: none). */
    private ChildJvm(List<String> launcher, boolean openNio, Class<?> mainClass, Path stderr, String... args) throws IOException {
        List<String> command = new ArrayList<>(launcher);
        command.add(ProcessHandle.current().info().command().orElseThrow());
        if (!launcher.isEmpty()) {
            command.add("-XX:-UsePerfData"); // its file is one more the JVM would write under a launcher's limits
        }
        if (openNio) {
            command.add("--add-opens");
            command.add("java.base/sun.nio.ch=ALL-UNNAMED");
        }
        command.add("-Xmx256m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass.getName());
        command.addAll(List.of(args));
        this.stderr = stderr;
        this.process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        this.reader = new Thread(this::readLines, "child-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    private void readLines() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                synchronized (lines) {
                    lines.add(line);
                    lines.notifyAll();
                }
            }
        } catch (IOException e) {
            // the child was killed mid-line: what was read stands
        }
    }

    /** Waits until {@code count} lines match, failing with the child's stderr after {@code seconds}. */
    void awaitLines(Predicate<String> matching, int count, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        synchronized (lines) {
            while (lines.stream().filter(matching).count() < count) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !process.isAlive() && lines.stream().filter(matching).count() < count) {
                    fail("the child printed " + lines.stream().filter(matching).count() + " of " + count
                            + " expected lines (alive: " + process.isAlive() + "); stderr:\n" + stderr());
                }
                lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)))));
            }
        }
    }

    /** Kills the child with SIGKILL and returns every line it printed. */
    List<String> kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
        reader.join(TimeUnit.SECONDS.toMillis(30));
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    /** Waits for the child to exit by itself; its exit code. */
    int waitFor(int seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            fail("the child did not finish in " + seconds + " s; stderr:\n" + stderr());
        }
        reader.join(TimeUnit.SECONDS.toMillis(30));
        return process.exitValue();
    }

    List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    String stderr() {
        try {
            return Files.readString(stderr);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Kills the child (SIGKILL) and waits until it is gone. */
    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }
}
