package dev.flux.bus;

import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.StreamName;

import java.util.Map;
import java.util.UUID;

/**
 * What a {@link Bus} hands a listener {@linkplain Bus#subscribeWithContext subscribed with context} beside
 * the event: the event's id and its metadata, and the stream and version it is stored at. For an event a
 * repository saved and published (see {@link dev.flux.Repository.Builder#publishTo}), they are what the store
 * recorded it with, what {@code readStream} returns: the stream is the aggregate's ({@code Account-42}), so a
 * listener of an event that does not name its aggregate still tells which one it happened to, at which
 * version, and can carry the conversation on (an event without a correlation id starts one here):
 *
 * <pre>{@code
 * String correlation = context.metadata().getOrDefault(Metadata.CORRELATION_ID, context.eventId().toString());
 * fees.update(context.aggregateId(),     // "42" of the event's stream "Account-42"
 *         f -> f.update(effect, Metadata.causedBy(UUID.fromString(correlation), context.eventId())));
 * }</pre>
 *
 * <p>A context of no stream, for an event that was not stored, has a {@code null} {@link #streamId()} and
 * {@link #version()} -1 ({@link ExpectedVersion#NO_STREAM}, the version of a stream without events): one
 * made with the two-argument constructor {@link #EventContext(UUID, Map)}, and the one an event published
 * without a context ({@link Bus#publish(Object)}) gets. That one is new for that publish, the same for each
 * of its listeners: a new time-ordered id ({@link EventData#newEventId()}) that names that publish alone (no
 * store holds an event under it), and empty metadata. A listener that passes that id on as a causation id
 * says "caused by that publish", as Axon does for a payload published without a message around it.
 * Immutable; two contexts are equal when all four components are.
 *
 * @param eventId  the event's id; for a saved event, the id it is stored under
 * @param metadata the entries recorded with the event (see {@link dev.flux.Metadata}); empty when none
 * @param streamId the stream the event is stored in, {@code <category>-<id>}; {@code null} for no stream
 * @param version  the event's version in that stream, 0 for its first event; {@code -1} for no stream
 */
public record EventContext(UUID eventId, Map<String, String> metadata, String streamId, long version) {

    /**
     * @throws IllegalArgumentException when the id or the metadata is null, the metadata holds a null, the
     *                                  stream id is blank, or the version is below 0 with a stream id or
     *                                  other than {@code -1} without one
     */
    public EventContext {
        if (eventId == null) {
            throw new IllegalArgumentException("eventId must not be null");
        }
        if (metadata == null) {
            throw new IllegalArgumentException("metadata of event " + eventId + " must not be null; Map.of() for none");
        }
        try {
            metadata = Map.copyOf(metadata);    // the map itself when it is one already, as a saved event's is
        } catch (NullPointerException e) {
            throw new IllegalArgumentException("metadata of event " + eventId + " must not hold nulls, had " + metadata, e);
        }
        if (streamId == null) {
            if (version != ExpectedVersion.NO_STREAM) {
                throw new IllegalArgumentException("version " + version + " of event " + eventId + " is in no stream:"
                        + " streamId is null. Give the stream it is stored in, or version -1 (NO_STREAM) for none");
            }
        } else if (streamId.isBlank()) {
            throw new IllegalArgumentException("streamId of event " + eventId + " must not be blank, was '" + streamId
                    + "'; null (with version -1) for no stream");
        } else if (version < 0) {
            throw new IllegalArgumentException("version of event " + eventId + " in stream " + streamId
                    + " must be >= 0 (its first event is 0), was " + version);
        }
    }

    /**
     * A context of no stream: {@code streamId} null and {@code version} -1, for a publisher of its own that
     * holds an event's id and metadata but no stream it is stored in.
     *
     * @throws IllegalArgumentException when the id or the metadata is null, or the metadata holds a null
     */
    public EventContext(UUID eventId, Map<String, String> metadata) {
        this(eventId, metadata, null, ExpectedVersion.NO_STREAM);
    }

    /**
     * The id part of the stream id, {@code 42} of {@code Account-42} (see {@link StreamName#id}): for a
     * saved event, the id its repository loads the aggregate by; {@code null} for no stream.
     */
    public String aggregateId() {
        return streamId == null ? null : StreamName.id(streamId);
    }

    /** The context of an event published without one (see above). */
    static EventContext unsaved() {
        return new EventContext(EventData.newEventId(), Map.of());
    }
}
