package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.EnvironmentConfig;
import jetbrains.exodus.env.EnvironmentImpl;
import jetbrains.exodus.env.Environments;
import jetbrains.exodus.env.TransactionalComputable;
import jetbrains.exodus.log.Log;
import jetbrains.exodus.log.LogUtil;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A store's directory and the Xodus {@link Environment} open on it. Opening turns the ways that can
 * fail (a file where the directory should be, no permission, a lock held by another process) into a
 * {@link FluxException} naming the directory; {@link #read} runs reads so that a read racing
 * {@code close} fails as closed. What runs on the caller's thread (opening, reads, closing) runs
 * {@link #uninterrupted}. {@link #requirePresent} tells whether the directory is still where the store
 * opened it.
 */
final class StoreDirectory {
    final Path path;
    final Environment environment;
    /** Names the store in messages: its class and directory. */
    final String owner;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch closeDone = new CountDownLatch(1);
    private final Log log;
    /** What the file system identifies the directory by (see {@link #fileKey}). */
    private final Object directoryKey;
    /** The log file {@link #requirePresent} last saw (its address, -1 before), and its key. */
    private long logFile = -1;
    private Object logFileKey;
    /** Set when {@link #requirePresent} found the directory or its log file gone. */
    private volatile boolean gone;
    /** Set by the writer when a commit failed (see {@link GroupCommit}): reads that fail after it say to reopen. */
    private volatile Throwable failedCommit;

    private StoreDirectory(Path path, Environment environment, String owner) {
        this.path = path;
        this.environment = environment;
        this.owner = owner;
        this.log = ((EnvironmentImpl) environment).getLog();
        try {
            this.directoryKey = fileKey(path, "the directory ");
        } catch (Gone e) {
            environment.close();
            throw new FluxException(owner + " cannot open: " + e.getMessage(), e);
        }
    }

    /**
     * Opens {@code directory} (made absolute, created when missing) for a store of class {@code kind},
     * Xodus syncing each commit when {@code options} ask for durable writes.
     *
     * @throws IllegalArgumentException when an argument is null
     * @throws FluxException            when the directory cannot be used, naming it
     */
    static StoreDirectory open(Path directory, XodusOptions options, String kind) {
        return open(directory, options, kind, false);
    }

    /**
     * As {@link #open(Path, XodusOptions, String)}; with {@code syncsItself}, the store syncs its commits
     * itself (see {@link LogSync}), so Xodus's own per-commit sync stays off.
     */
    static StoreDirectory open(Path directory, XodusOptions options, String kind, boolean syncsItself) {
        if (directory == null || options == null) {
            throw new IllegalArgumentException(kind + " needs a directory and options, got " + directory + ", " + options);
        }
        if (directory.toString().isEmpty()) {
            // Path.of(""), a setting left empty: it would open the working directory.
            throw new IllegalArgumentException(kind + " needs a directory, got an empty path");
        }
        Path path = directory.toAbsolutePath();
        boolean syncEachCommit = options.durableWrites() && !syncsItself;
        return new StoreDirectory(path, uninterrupted(() -> environment(path, options, syncEachCommit, kind)), kind + " in " + path);
    }

    /**
     * Runs a read in a read-only transaction with the caller's interrupt flag cleared, and sets it
     * again after.
     *
     * @throws IllegalStateException when closed, before or during the read
     * @throws FluxException         when Xodus fails
     */
    <T> T read(TransactionalComputable<T> body) {
        requireOpen();
        return uninterrupted(() -> {
            try {
                return environment.computeInReadonlyTransaction(body);
            } catch (FluxException e) {
                throw e;
            } catch (RuntimeException e) {
                if (closed.get()) {
                    throw new IllegalStateException(owner + " was closed during the read", e);
                }
                Throwable commit = failedCommit;
                if (commit != null) {
                    throw new FluxException(owner + " failed to read: " + e + ". A commit failed before ("
                            + IoFailure.describe(commit) + "), and Xodus may not read its own latest pages again until the"
                            + " store is opened again: close it and open it again (every write it acknowledged is kept)", e);
                }
                throw new FluxException(owner + " failed to read: " + e, e);
            }
        });
    }

    /**
     * Told by the writer that a commit failed: Xodus may not read its own latest pages again until the
     * environment is reopened, so a read that fails from now on says so.
     */
    void commitFailed(Throwable cause) {
        failedCommit = cause;
    }

    /**
     * Runs what a store does on the directory as it opens (its first transactions, on the caller's
     * thread, {@link #uninterrupted}), closing the environment again when that fails.
     *
     * @throws FluxException when {@code opening} fails, naming the store
     */
    <T> T opening(Supplier<T> opening) {
        return uninterrupted(() -> {
            try {
                return opening.get();
            } catch (RuntimeException e) {
                environment.close();
                if (e instanceof FluxException) {
                    throw e;
                }
                IoFailure io = IoFailure.in(e);
                throw new FluxException(owner + " cannot open: " + (io != null ? io.what() + "; " + io.remedy()
                        + " and open it again" : e.toString()), e);
            }
        });
    }

    /**
     * Runs {@code body} with the caller's interrupt flag cleared, and sets it again after. An interrupt
     * that reaches a file channel closes it: Xodus then fails to take the directory's lock (an open that
     * reads as "locked by another process"), to flush on close, or goes inoperative (see {@link GroupCommit}).
     */
    static <T> T uninterrupted(Supplier<T> body) {
        boolean interrupted = Thread.interrupted();
        try {
            return body.get();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The largest value a store here may put. Xodus writes each value within one log file (8 MB unless
     * configured otherwise) and fails the whole transaction at commit, and with it every other write of
     * a group commit, when one does not fit; a store checks its values against this first. It leaves 1 MB
     * of the file for page checksums, headers and the key, or a quarter of a file smaller than 4 MB (set
     * with Xodus's {@code exodus.log.fileSize} property).
     */
    int maxValueBytes() {
        long fileBytes = environment.getEnvironmentConfig().getLogFileSize() * 1024;
        return (int) Math.min(Integer.MAX_VALUE - 8, fileBytes - Math.min(1 << 20, fileBytes / 4));
    }

    /**
     * Fails when the directory is no longer the one the store opened, or the log file Xodus writes to is no
     * longer in it: deleted, moved or replaced while the store is open. Xodus goes on writing into the
     * files it holds open, and commits go on succeeding into files nobody will find again; the writer
     * calls this after each commit is on disk and before its callers learn of it. Two {@code stat}s. A
     * file that cannot be looked at (its permissions changed) is taken to be still there.
     *
     * @throws Gone when the directory or the log file went away, naming it
     */
    synchronized void requirePresent() throws Gone {
        try {
            checkPresent();
        } catch (Gone e) {
            gone = true;
            throw e;
        }
    }

    /**
     * Whether {@link #requirePresent} found the directory or its log file gone: what is at {@link #path} now
     * is not the store's, and nothing more of the store's should be written there.
     */
    boolean gone() {
        return gone;
    }

    private void checkPresent() throws Gone {
        requireSame(directoryKey, path, "the directory ");
        long end = log.getHighAddress();
        if (end <= 0) {
            return;
        }
        long file = log.getFileAddress(end - 1);
        Path current = path.resolve(LogUtil.getLogFilename(file));
        if (file != logFile) {
            // Xodus has just made it, in the directory checked above.
            logFile = file;
            logFileKey = fileKey(current, "the log file ");
        } else {
            requireSame(logFileKey, current, "the log file ");
        }
    }

    private static void requireSame(Object key, Path file, String what) throws Gone {
        Object now = fileKey(file, what);
        if (key != UNKNOWN && now != UNKNOWN && !key.equals(now)) {
            throw new Gone(what + file + " was deleted, moved or replaced while the store had it open");
        }
    }

    /**
     * The file system's key of a file: on Linux its device and inode, which a file put in its place does
     * not share; where the file system has none, its path, so that only its existence counts; {@link #UNKNOWN}
     * when it cannot be looked at.
     *
     * @throws Gone when there is no such file
     */
    private static Object fileKey(Path file, String what) throws Gone {
        try {
            Object key = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
            return key != null ? key : file;
        } catch (NoSuchFileException e) {
            throw new Gone(what + file + " was deleted, moved or replaced while the store had it open");
        } catch (IOException e) {
            return UNKNOWN;
        }
    }

    private static final Object UNKNOWN = new Object();

    /** The directory, or the log file in it, is no longer where the store opened it. */
    static final class Gone extends IOException {
        Gone(String message) {
            super(message);
        }
    }

    /** @throws IllegalStateException when closed */
    void requireOpen() {
        if (closed.get()) {
            throw new IllegalStateException(owner + " is closed");
        }
    }

    /**
     * Closes the store once: marks it closed (calls from then on fail as closed), runs {@code finish} (the
     * store finishing its queued writes), then closes the environment. A close while another is under
     * way waits for it, uninterruptibly (it takes a commit or two): when any close returns, the
     * directory is free for the next store to open.
     *
     * @throws FluxException when Xodus cannot close the environment cleanly (what was committed stays committed)
     */
    void close(Runnable finish) {
        if (!closed.compareAndSet(false, true)) {
            awaitClosed();
            return;
        }
        try {
            finish.run();
        } finally {
            try {
                uninterrupted(() -> {
                    environment.close();
                    return null;
                });
            } catch (RuntimeException e) {
                throw new FluxException(owner + " could not close its files cleanly; what was committed stays committed: " + e, e);
            } finally {
                closeDone.countDown();
            }
        }
    }

    private void awaitClosed() {
        boolean interrupted = false;
        while (closeDone.getCount() > 0) {
            try {
                closeDone.await();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static Environment environment(Path directory, XodusOptions options, boolean syncEachCommit, String owner) {
        if (Files.exists(directory) && !Files.isDirectory(directory)) {
            throw new FluxException(owner + " cannot open " + directory + ": it is a file, not a directory");
        }
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            IoFailure io = IoFailure.in(e);
            throw new FluxException(owner + " cannot create its directory " + directory + ": " + io.what() + "; "
                    + io.remedy() + " and open it again", e);
        }
        if (!Files.isReadable(directory) || !Files.isWritable(directory) || !Files.isExecutable(directory)) {
            throw new FluxException(owner + " cannot open " + directory + ": the directory is not readable and writable by"
                    + " this process (user " + System.getProperty("user.name") + "); fix its permissions");
        }
        EnvironmentConfig config = new EnvironmentConfig()
                .setLogDurableWrite(syncEachCommit)
                .setMemoryUsage(options.cacheSize())
                .setLogCacheShared(false)
                .setLogLockTimeout(options.lockTimeout().toMillis())
                .setGcMinUtilization(options.gcMinUtilization())
                .setEnvCloseForcedly(true)
                .setManagementEnabled(false)
                .setEnvGatherStatistics(false);
        try {
            return Environments.newInstance(directory.toFile(), config);
        } catch (RuntimeException e) {
            IoFailure io = IoFailure.in(e);
            if (io != null) {
                // Before the lock check: Xodus reports a lock file it cannot write as "Failed to lock file xd.lck".
                throw new FluxException(owner + " cannot open " + directory + ": " + io.what() + "; " + io.remedy()
                        + " and open it again", e);
            }
            if (isLockFailure(e) && Thread.currentThread().isInterrupted()) {
                // Opening runs with the flag cleared: set now, an interrupt cut Xodus's wait for the lock short.
                throw new FluxException(owner + " cannot open " + directory + ": it was interrupted while it waited for the"
                        + " directory's lock, which another process (or another store in this one) holds; nothing was"
                        + " opened, and the thread's interrupt flag is set", e);
            }
            if (isLockFailure(e)) {
                throw new FluxException(owner + " cannot open " + directory + ": the directory is locked by another process"
                        + " (or another store in this one) that has it open; close that first, or give it time with"
                        + " XodusOptions.lockTimeout (waited " + options.lockTimeout().toMillis() + " ms)", e);
            }
            throw new FluxException(owner + " cannot open " + directory + ": " + e, e);
        }
    }

    /** "lock" or "locked" as a word: Xodus's "Can't acquire environment lock", not a "block" of the log. */
    private static final Pattern LOCK_WORD = Pattern.compile("\\block(ed)?\\b");

    private static boolean isLockFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (t instanceof java.nio.channels.OverlappingFileLockException
                    || message != null && LOCK_WORD.matcher(message.toLowerCase(Locale.ROOT)).find()) {
                return true;
            }
        }
        return false;
    }
}
