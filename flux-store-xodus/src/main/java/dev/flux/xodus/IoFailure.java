package dev.flux.xodus;

import jetbrains.exodus.OutOfDiskSpaceException;

import java.io.IOException;
import java.util.Locale;

/**
 * An I/O failure found among an exception's causes, in words for a message: what happened ("the disk is
 * full (No space left on device)") and what the user can do about it ("free space on it"). Xodus reports a
 * full disk as {@link OutOfDiskSpaceException} when it sees too little space left, and otherwise passes the
 * operating system's error on inside its own exceptions, so both are looked for.
 */
record IoFailure(String what, String remedy) {

    /** The first I/O failure among {@code failure} and its causes, or null when there is none. */
    static IoFailure in(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof OutOfDiskSpaceException) {
                return new IoFailure("the disk is full (no space left on device)", "free space on it");
            }
            if (t instanceof IOException && !(t instanceof StoreDirectory.Gone)) {
                return of((IOException) t);
            }
        }
        return null;
    }

    /** The failure an operating system's error message names. */
    private static IoFailure of(IOException failure) {
        String message = failure.getMessage();
        String lower = message == null ? "" : message.toLowerCase(Locale.ROOT);
        if (lower.contains("no space left") || lower.contains("not enough space")) {
            return new IoFailure("the disk is full (" + message + ")", "free space on it");
        }
        if (lower.contains("quota")) {
            return new IoFailure("the disk quota is used up (" + message + ")", "free space or raise the quota");
        }
        if (lower.contains("file too large")) {
            return new IoFailure("a file reached the largest size this process may write (" + message + ")",
                    "raise the file size limit (ulimit -f)");
        }
        // The exception's class too: an AccessDeniedException's or NoSuchFileException's message is a bare path.
        return new IoFailure("an I/O error (" + failure + ")", "fix what the error names");
    }

    /** What happened, or, when it was no I/O failure, the failure itself. */
    static String describe(Throwable failure) {
        IoFailure io = in(failure);
        return io != null ? io.what : String.valueOf(failure);
    }
}
