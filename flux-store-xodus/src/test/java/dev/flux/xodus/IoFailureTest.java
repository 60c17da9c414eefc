package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.ExodusException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.AccessDeniedException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class IoFailureTest {

    @Test
    void aFullDiskFoundAmongTheCausesIsCalledSoWithWhatToDo() {
        IoFailure full = IoFailure.in(new ExodusException("Failed to write", new IOException("No space left on device")));

        assertEquals("the disk is full (No space left on device)", full.what());
        assertEquals("free space on it", full.remedy());
    }

    @Test
    void aFileSizeLimitAndAQuotaAreToldApart() {
        assertEquals("raise the file size limit (ulimit -f)", IoFailure.in(new IOException("File too large")).remedy());
        assertEquals("free space or raise the quota", IoFailure.in(new IOException("Disk quota exceeded")).remedy());
    }

    @Test
    void anyOtherIoErrorKeepsItsKindBesideItsMessage() {
        // The message of an AccessDeniedException is a bare path: the class says what happened.
        IoFailure denied = IoFailure.in(new FluxException("cannot open", new AccessDeniedException("/data/events")));

        assertEquals("an I/O error (java.nio.file.AccessDeniedException: /data/events)", denied.what());
        assertEquals("an I/O error (java.nio.file.AccessDeniedException: /data/events)",
                IoFailure.describe(new AccessDeniedException("/data/events")));
    }

    @Test
    void aFailureWithoutAnIoCauseIsDescribedAsItIs() {
        IllegalStateException other = new IllegalStateException("Environment is inoperative");

        assertNull(IoFailure.in(other));
        assertEquals(other.toString(), IoFailure.describe(other));
    }
}
