package dev.flux;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.time.Instant;
import java.util.AbstractMap;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * An event as a store recorded it: {@link EventData} plus where and when it was recorded.
 * Immutable: the body and metadata are copied on the way in, and {@link #data()} returns a copy.
 *
 * @param streamId   the stream it belongs to
 * @param version    its 0-based version within the stream
 * @param position   its position in the store's global log: 1 or more, strictly increasing in commit
 *                   order, not necessarily contiguous
 * @param eventId    its id, unique across the store
 * @param type       its type name
 * @param data       the serialized event
 * @param metadata   its metadata; null for none
 * @param recordedAt when the store recorded it
 */
public record RecordedEvent(String streamId, long version, long position, UUID eventId, String type,
                            byte[] data, Map<String, String> metadata, Instant recordedAt) {

    /**
     * @throws IllegalArgumentException when an argument but the metadata is null, the stream id or type is
     *                                  blank, metadata holds a null, or a number is out of range
     */
    public RecordedEvent {
        StreamName.requirePresent(streamId);
        if (version < 0) {
            throw new IllegalArgumentException("version must be >= 0, was " + version + " (stream " + streamId + ")");
        }
        if (position < 1) {
            throw new IllegalArgumentException("position must be >= 1, was " + position + " (stream " + streamId + ")");
        }
        if (eventId == null || type == null || type.isBlank() || data == null || recordedAt == null) {
            throw new IllegalArgumentException("eventId, type, data and recordedAt are required, got eventId=" + eventId
                    + ", type=" + type + ", data=" + (data == null ? "null" : data.length + " bytes")
                    + ", recordedAt=" + recordedAt + " (stream " + streamId + " version " + version + ")");
        }
        if (metadata instanceof FromEventData checked) {
            // From of(...): body and metadata belong to an EventData, immutable and never handed out; share them.
            metadata = checked.metadata;
        } else {
            data = data.clone();
            metadata = EventData.hasNoNulls(metadata) ? EventData.immutable(metadata)
                    : Metadata.copyOf(metadata, "stream " + streamId + " version " + version);
        }
    }

    /**
     * Records {@code event} at the given place in the log, sharing its (immutable) body rather than copying it.
     *
     * @throws IllegalArgumentException as the constructor does, and when the event is null
     */
    public static RecordedEvent of(String streamId, long version, long position, EventData event, Instant recordedAt) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null (stream " + streamId + " version " + version + ")");
        }
        return new RecordedEvent(streamId, version, position, event.eventId(), event.type(), event.rawData(),
                new FromEventData(event.metadata()), recordedAt);
    }

    /**
     * Marks the arguments of {@link #of}: metadata already checked and made immutable by an
     * {@link EventData}, and a body the EventData owns. Only this class can make one, and the
     * constructor unwraps it, so no instance escapes.
     */
    private static final class FromEventData extends AbstractMap<String, String> {
        private final Map<String, String> metadata;

        FromEventData(Map<String, String> metadata) {
            this.metadata = metadata;
        }

        @Override
        public Set<Entry<String, String>> entrySet() {
            return metadata.entrySet();
        }
    }

    /** The stream's category: the part of the stream id before the first {@code -} (see {@link StreamName}). */
    public String category() {
        return StreamName.category(streamId);
    }

    /** A copy of the serialized event. */
    @Override
    public byte[] data() {
        return data.clone();
    }

    /**
     * The serialized event as a stream over the stored bytes, without copying them: for deserializers
     * that read every event (a replay, a subscription), where {@link #data()}'s copy per event costs.
     */
    public InputStream dataStream() {
        return new ByteArrayInputStream(data);
    }

    /** The length in bytes of the serialized event, without copying it (to bound what a page of events holds, say). */
    public int dataLength() {
        return data.length;
    }

    /** This event as {@link EventData}, e.g. to copy it into another store. */
    public EventData toEventData() {
        return new EventData(eventId, type, data, metadata);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecordedEvent other
                && version == other.version
                && position == other.position
                && streamId.equals(other.streamId)
                && eventId.equals(other.eventId)
                && type.equals(other.type)
                && Arrays.equals(data, other.data)
                && metadata.equals(other.metadata)
                && recordedAt.equals(other.recordedAt);
    }

    @Override
    public int hashCode() {
        return eventId.hashCode();
    }

    @Override
    public String toString() {
        return "RecordedEvent[" + streamId + "@" + version + ", position=" + position + ", eventId=" + eventId
                + ", type=" + type + ", data=" + data.length + " bytes, metadata=" + metadata + ", recordedAt="
                + recordedAt + "]";
    }
}
