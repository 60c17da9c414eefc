package dev.flux.feed;

import dev.flux.FluxException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client that sources made without one share: made once, and made again after a failure. */
class HttpEventSourceSharedClientTest {

    @Test
    void aSharedClientThatCouldNotBeMadeIsMadeByTheNextSourceInsteadOfFailingEveryLaterOne() {
        // Made in a class initializer, one failure (a process out of file descriptors cannot open the client's
        // selector) failed every later HttpEventSource.of(uri) of the process with a bare NoClassDefFoundError.
        HttpClient made = HttpClient.newHttpClient();
        AtomicInteger attempts = new AtomicInteger();
        HttpEventSource.SharedClient shared = new HttpEventSource.SharedClient(() -> {
            if (attempts.incrementAndGet() == 1) {
                throw new UncheckedIOException(new IOException("Too many open files"));
            }
            return made;
        });

        FluxException first = assertThrows(FluxException.class, shared::get);
        HttpClient second = shared.get();
        HttpClient third = shared.get();

        assertTrue(first.getMessage().startsWith("cannot make the HttpClient that HttpEventSources made without one"
                + " share: java.io.UncheckedIOException: java.io.IOException: Too many open files.")
                && first.getMessage().contains("HttpEventSource.of(uri, wait, client)"), first.getMessage());
        assertSame(made, second);
        assertSame(made, third, "made once, then shared");
        assertEquals(2, attempts.get());
    }
}
