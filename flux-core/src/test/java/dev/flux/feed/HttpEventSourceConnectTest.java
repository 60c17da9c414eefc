package dev.flux.feed;

import dev.flux.FluxException;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a source says when it cannot connect to its feed at all. */
class HttpEventSourceConnectTest {

    @Test
    void aConnectionNotTakenIsNamedWithoutClaimingItWasRefused() throws Exception {
        // The JDK reports a refused connection, an unreachable host and an unreachable network alike, as a
        // ConnectException without a message: the source cannot tell which, so it must not say "refused" alone.
        try (Socket reserved = new Socket()) {
            reserved.bind(new InetSocketAddress("127.0.0.1", 0));    // bound, never listening: connections are refused
            int port = reserved.getLocalPort();
            URI nobody = URI.create("http://127.0.0.1:" + port + "/events");

            FluxException error = assertThrows(FluxException.class, () -> HttpEventSource.of(nobody, Duration.ZERO).read(0, 10));

            String message = error.getMessage();
            assertTrue(message.startsWith("cannot read the feed at " + nobody), message);
            assertTrue(message.contains("could not connect to 127.0.0.1:" + port + " (refused or unreachable: is the feed's"
                    + " service up, on that port, and reachable from here?)"), message);
            assertFalse(message.contains("(refused:"), message);
        }
    }
}
