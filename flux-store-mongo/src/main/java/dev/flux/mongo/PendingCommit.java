package dev.flux.mongo;

import dev.flux.EventData;
import org.bson.BsonDocument;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * An append waiting for its turn at the end of the log, with the outcome its caller waits for:
 * true when its commit was inserted, false when another commit already starts at its first version,
 * or the exception to throw.
 */
final class PendingCommit {
    final String streamId;
    final long firstVersion;
    final List<EventData> events;
    /** The commit document, built before the wait; its positions are set when it is inserted. */
    final BsonDocument document;
    final CompletableFuture<Boolean> outcome = new CompletableFuture<>();

    PendingCommit(String streamId, long firstVersion, List<EventData> events, BsonDocument document) {
        this.streamId = streamId;
        this.firstVersion = firstVersion;
        this.events = events;
        this.document = document;
    }
}
