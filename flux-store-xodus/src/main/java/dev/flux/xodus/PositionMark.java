package dev.flux.xodus;

import dev.flux.FluxException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The file {@value #FILE} in an event store's directory: the last global position the store knew to be
 * on disk, in decimal, written when the store opens and when it closes cleanly. Xodus, opening a log
 * damaged in the middle, cuts it at the damage and says nothing; a log ending below the mark is how the
 * store notices. A file is replaced whole or not at all: written to a temporary file of its own (two
 * closes of one store, or a close and the next open, may write at once), synced, renamed over the old
 * one, and the directory synced where the platform allows. A write that fails (a full disk) deletes
 * its temporary file and leaves the old mark as it was. A temporary file is named after the process
 * writing it, so that one a process killed mid-write left behind (a SIGKILL during close) is
 * {@linkplain #deleteLeftovers deleted} by a later open (once it is ten seconds old) instead of staying for good.
 */
final class PositionMark {
    static final String FILE = "flux-last-position";

    private PositionMark() {
    }

    /**
     * The mark in {@code directory}, 0 when there is no file (a new store, or one from before the mark).
     *
     * @throws FluxException when the file cannot be read or holds no position, naming it
     */
    static long read(Path directory, String owner) {
        Path file = directory.resolve(FILE);
        String text;
        try {
            text = new String(Files.readAllBytes(file), StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new FluxException(owner + " cannot read its last position from " + file + ": " + e, e);
        }
        if (!text.matches("[0-9]{1,18}\n")) {
            throw new FluxException(owner + " cannot read its last position from " + file + ": the file holds no position"
                    + " (it should hold one number); if you know the directory's log is whole, delete the file and the"
                    + " store writes it anew");
        }
        return Long.parseLong(text.strip());
    }

    /**
     * Deletes the temporary files of processes that died while writing a mark (killed during an open or a
     * close), and those of flux versions that did not name the process, once they are
     * {@value #LEFTOVER_AGE_MILLIS} ms old. A live process's are left alone: another store of this process
     * may be closing, or another process may have just closed, the directory and be writing its mark. So is
     * a younger one whose process is not seen here, as it may be alive where this one cannot see it (another
     * container's pid namespace, another machine sharing the directory, an older flux): a close writes its
     * mark after letting go of the directory, so the next open may run while the file is being written, and
     * deleting it then would fail that close. Best effort: what cannot be listed or deleted stays, and one
     * file that cannot be (renamed by its writer since the listing, say) does not keep the others.
     */
    static void deleteLeftovers(Path directory) {
        long before = System.currentTimeMillis() - LEFTOVER_AGE_MILLIS;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, FILE + ".*.tmp")) {
            for (Path file : files) {
                deleteIfLeftover(file, before);
            }
        } catch (IOException | RuntimeException e) {
            // A leftover costs a few bytes; failing to delete one must not fail the open.
        }
    }

    private static void deleteIfLeftover(Path file, long writtenBefore) {
        Matcher name = TEMPORARY.matcher(file.getFileName().toString());
        try {
            if (name.matches() && (name.group(1) == null || !alive(Long.parseLong(name.group(1))))
                    && Files.getLastModifiedTime(file).toMillis() < writtenBefore) {
                Files.deleteIfExists(file);
            }
        } catch (IOException | RuntimeException e) {
            // Gone since the listing, or not ours to delete: it stays, as in deleteLeftovers.
        }
    }

    /**
     * How old a temporary mark of a process not alive here must be to be deleted: a write of one takes
     * milliseconds (a write, a sync and a rename), so one this old is not being written.
     */
    static final long LEFTOVER_AGE_MILLIS = 10_000;

    /** A temporary mark: {@code flux-last-position.<pid>.<uuid>.tmp}, or without the pid (older flux versions). */
    private static final Pattern TEMPORARY = Pattern.compile(Pattern.quote(FILE)
            + "\\.(?:([0-9]{1,18})\\.)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.tmp");

    private static boolean alive(long pid) {
        return pid == ProcessHandle.current().pid() || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * Replaces the mark in {@code directory} with {@code position}.
     *
     * @throws IOException when the file cannot be written (the old mark then stays as it was)
     */
    static void write(Path directory, long position) throws IOException {
        // Not Files.createTempFile, which makes the file readable by its owner only, unlike Xodus's files.
        Path temporary = directory.resolve(FILE + "." + ProcessHandle.current().pid() + "." + UUID.randomUUID() + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                channel.write(StandardCharsets.US_ASCII.encode(position + "\n"));
                channel.force(true);
            }
            Files.move(temporary, directory.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException left) {
                e.addSuppressed(left);
            }
            throw e;
        }
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Some platforms (Windows) cannot open or sync a directory: the rename is then as durable as they make it.
        }
    }
}
