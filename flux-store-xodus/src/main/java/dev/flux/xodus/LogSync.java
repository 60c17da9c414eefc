package dev.flux.xodus;

import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.EnvironmentImpl;
import jetbrains.exodus.log.Log;
import jetbrains.exodus.log.LogUtil;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Forces what an environment committed to disk, from a thread of flux's own and outside Xodus's
 * commit lock, so that the writer thread can build and commit the next transaction while the disk
 * syncs the last one. The environment is opened with Xodus's durable writes off: a commit then
 * writes its pages to the file (the operating system's cache) and returns.
 *
 * <p>Xodus's log is a row of files, each written to its end and then never again; Xodus itself
 * syncs a file when it closes it as full, and syncs the directory when it creates one, durable
 * writes or not. So what a commit wrote is on disk once the file holding its last byte is: that one
 * file is all {@link #force} syncs, through a channel of its own (fsync works on the file, whichever
 * descriptor asks). Used by one thread at a time; not final so that tests can make a sync wait or fail.
 */
class LogSync implements AutoCloseable {
    private final Log log;
    private final Path directory;
    private long fileAddress = -1;
    private FileChannel channel;

    LogSync(Environment environment, Path directory) {
        this.log = ((EnvironmentImpl) environment).getLog();
        this.directory = directory;
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
        if (file != fileAddress) {
            close();
            channel = FileChannel.open(directory.resolve(LogUtil.getLogFilename(file)), StandardOpenOption.WRITE);
            fileAddress = file;
        }
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        FileChannel open = channel;
        channel = null;
        fileAddress = -1;
        if (open != null) {
            open.close();
        }
    }
}
