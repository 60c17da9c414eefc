package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.Store;
import jetbrains.exodus.env.Transaction;
import jetbrains.exodus.env.TransactionalComputable;

import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * One Xodus store in a directory of its own, with the group-commit writer every flux store writes
 * through: what {@link XodusOffsetStore} and {@link XodusSnapshotStore} are built on. Reads go through
 * {@link StoreDirectory#read} (interrupt-safe), writes through the writer thread.
 */
final class SingleStore implements AutoCloseable {
    final StoreDirectory directory;
    final Store store;
    private final GroupCommit<Transaction> writer;

    /**
     * Opens {@code directory} for a store of class {@code kind} holding the Xodus store {@code name}.
     *
     * @throws FluxException            when the directory cannot be used, naming it
     * @throws IllegalArgumentException when an argument is null
     */
    SingleStore(Path directory, XodusOptions options, String kind, String name) {
        this.directory = StoreDirectory.open(directory, options, kind);
        Environment environment = this.directory.environment;
        this.store = this.directory.opening(() -> environment.computeInExclusiveTransaction(txn -> {
            Layout.stamp(environment, txn, kind, this.directory.path, Layout.SINGLE_STORE_FORMAT, Layout.SINGLE_STORE_FORMAT,
                    Layout.SINGLE_STORE_FORMAT);
            return Layout.open(environment, name, txn);
        }));
        this.writer = new GroupCommit<>(this.directory, options.maxBatchEvents(), txn -> txn, txn -> { });
    }

    /** Runs a read-only transaction. @throws IllegalStateException when closed */
    <T> T read(TransactionalComputable<T> body) {
        return directory.read(body);
    }

    /**
     * Refuses, on the caller's thread, an entry too large for the log (see
     * {@link StoreDirectory#maxValueBytes()}), which would otherwise fail every write of its group commit.
     *
     * @param what what the entry is, for the message ("the snapshot of Account-1@7")
     * @throws FluxException naming {@code what}, when its key and value together are too large
     */
    void requireFits(ByteIterable key, ByteIterable value, String what) {
        long bytes = (long) key.getLength() + value.getLength();
        int max = directory.maxValueBytes();
        if (bytes > max) {
            throw new FluxException(what + " is " + bytes / 1024 + " KB with its key; an entry in " + directory.owner
                    + " holds at most " + max / 1024 + " KB. Nothing was written");
        }
    }

    /** A name as a message shows it: whole up to 100 characters, else its start and its length. */
    static String abbreviated(String name) {
        return name.length() <= 100 ? name : name.substring(0, 100) + "... (" + name.length() + " characters)";
    }

    /**
     * Runs {@code body} in the writer's next transaction and returns once it is committed (on disk with
     * durable writes).
     *
     * @throws IllegalStateException when closed
     * @throws FluxException         when the write failed (the message says whether it may have landed)
     */
    void write(Consumer<Transaction> body) {
        directory.requireOpen();
        writer.submit(new Write(body));
    }

    /** Finishes the writes already queued, stops the writer thread and closes the directory. Idempotent (see {@link XodusEventStore#close()}). */
    @Override
    public void close() {
        directory.close(writer::close);
    }

    /** A write that is never refused. */
    private record Write(Consumer<Transaction> body) implements GroupCommit.Work<Transaction> {
        @Override
        public int events() {
            return 1;
        }

        @Override
        public boolean check(Transaction txn) {
            return true;
        }

        @Override
        public void write(Transaction txn) {
            body.accept(txn);
        }
    }
}
