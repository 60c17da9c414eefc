package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.EnvironmentConfig;
import jetbrains.exodus.env.Environments;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Opens the Xodus {@link Environment} of a store's directory, turning the ways that can fail (a file
 * where the directory should be, no permission, a lock held by another process) into a
 * {@link FluxException} that names the directory.
 */
final class StoreDirectory {
    private StoreDirectory() {
    }

    static Environment open(Path directory, XodusOptions options, String owner) {
        if (Files.exists(directory) && !Files.isDirectory(directory)) {
            throw new FluxException(owner + " cannot open " + directory + ": it is a file, not a directory");
        }
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new FluxException(owner + " cannot create its directory " + directory + ": " + e, e);
        }
        if (!Files.isReadable(directory) || !Files.isWritable(directory) || !Files.isExecutable(directory)) {
            throw new FluxException(owner + " cannot open " + directory + ": the directory is not readable and writable by"
                    + " this process (user " + System.getProperty("user.name") + "); fix its permissions");
        }
        EnvironmentConfig config = new EnvironmentConfig()
                .setLogDurableWrite(options.durableWrites())
                .setMemoryUsage(options.cacheSize())
                .setLogCacheShared(false)
                .setLogLockTimeout(options.lockTimeout().toMillis())
                .setEnvCloseForcedly(true)
                .setManagementEnabled(false);
        try {
            return Environments.newInstance(directory.toFile(), config);
        } catch (RuntimeException e) {
            if (isLockFailure(e)) {
                throw new FluxException(owner + " cannot open " + directory + ": the directory is locked by another process"
                        + " (or another store in this one) that has it open; close that first, or give it time with"
                        + " XodusOptions.lockTimeout (waited " + options.lockTimeout().toMillis() + " ms)", e);
            }
            throw new FluxException(owner + " cannot open " + directory + ": " + e, e);
        }
    }

    private static boolean isLockFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (t instanceof java.nio.channels.OverlappingFileLockException
                    || message != null && message.toLowerCase(Locale.ROOT).contains("lock")) {
                return true;
            }
        }
        return false;
    }
}
