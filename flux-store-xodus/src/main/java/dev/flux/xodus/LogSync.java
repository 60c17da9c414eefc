package dev.flux.xodus;

import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.EnvironmentImpl;
import jetbrains.exodus.log.Log;
import jetbrains.exodus.log.LogUtil;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Forces what an environment committed to disk, from a thread of flux's own and outside Xodus's
 * commit lock, so that the writer thread can build and commit the next transaction while the disk
 * syncs the last one. The environment is opened with Xodus's durable writes off: a commit then
 * writes its pages to the file (the operating system's cache) and returns.
 *
 * <p>Xodus's log is a row of files, each written to its end and then never again, named by the
 * address it starts at; Xodus syncs the directory when it creates a file, durable writes or not. So
 * what the commits since the last sync wrote is on disk once the files from the last synced one to
 * the one holding their last byte are: those are what {@link #force} syncs, through channels of its
 * own (fsync works on the file, whichever descriptor asks). Xodus also syncs a full file before it
 * moves to the next, so forcing the earlier ones again costs little; it keeps this class right
 * without relying on that. An earlier file that is no longer there was deleted by Xodus's cleaner,
 * which copies a file's live entries to the end of the log and syncs them before it deletes the file:
 * there is nothing left in it to force (a directory gone is {@link StoreDirectory#requirePresent}'s to
 * notice). Used by one thread at a time; not final so that tests can make a sync
 * wait or fail.
 */
class LogSync implements AutoCloseable {
    private final Log log;
    private final Path directory;
    /** The file the next sync starts at: where the last one stopped, or where the log ended when this was made. */
    private long syncedFrom;
    /** Open on file {@link #syncedFrom} once a sync was made there; null before. */
    private FileChannel channel;

    LogSync(Environment environment, Path directory) {
        this.log = ((EnvironmentImpl) environment).getLog();
        this.directory = directory;
        long end = log.getHighAddress();
        this.syncedFrom = end > 0 ? log.getFileAddress(end - 1) : 0;
    }

    /** The end of the log: called on the writer thread right after a commit, it is where the commit ended. */
    long end() {
        return log.getHighAddress();
    }

    /** Returns once everything written before {@code end} is on disk. */
    void force(long end) throws IOException {
        if (end <= 0) {
            return;
        }
        long file = log.getFileAddress(end - 1);
        if (channel == null || file != syncedFrom) {
            // The files from where the last sync stopped up to this one: what was written to them since.
            for (long earlier = syncedFrom; earlier < file; earlier += log.getFileLengthBound()) {
                if (channel != null && earlier == syncedFrom) {
                    channel.force(false);
                } else {
                    try (FileChannel whole = open(earlier)) {
                        whole.force(false);
                    } catch (NoSuchFileException cleaned) {
                        // Deleted by Xodus's cleaner, which syncs what it moved out of a file first: nothing to force.
                    }
                }
            }
            close();
            channel = open(file);
            syncedFrom = file;
        }
        channel.force(false);
    }

    /** Forces every file of the log, whatever wrote it: for a log opened after a crash, before flux counts on it. */
    void forceAll() throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + LogUtil.LOG_FILE_EXTENSION)) {
            for (Path file : files) {
                try (FileChannel whole = FileChannel.open(file, StandardOpenOption.WRITE)) {
                    whole.force(false);
                } catch (NoSuchFileException cleaned) {
                    // Deleted by Xodus's cleaner since the listing, after it synced what it moved out of the file.
                }
            }
        }
    }

    /** A channel on the log file starting at address {@code file}. */
    FileChannel open(long file) throws IOException {
        return FileChannel.open(directory.resolve(LogUtil.getLogFilename(file)), StandardOpenOption.WRITE);
    }

    @Override
    public void close() throws IOException {
        FileChannel open = channel;
        channel = null;
        if (open != null) {
            open.close();
        }
    }
}
