package dev.flux;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One event to append: its id (unique across the store), its type name, its serialized body and
 * its metadata (correlation and causation ids, schema version, user entries; see {@link Metadata}).
 * Immutable: the body and metadata are copied on the way in, and {@link #data()} returns a copy.
 *
 * @param eventId  the event's id, unique across the store
 * @param type     the type name readers use to decode {@code data}
 * @param data     the serialized event, usually JSON
 * @param metadata string entries that travel with the event; null for none
 */
public record EventData(UUID eventId, String type, byte[] data, Map<String, String> metadata) {

    /**
     * @throws IllegalArgumentException when the event id, type or data is null, the type is blank, metadata
     *                                  holds a null, or the type or metadata holds a lone surrogate (see
     *                                  {@link Utf8})
     */
    public EventData {
        if (eventId == null) {
            throw new IllegalArgumentException("eventId must not be null");
        }
        if (type == null || type.isBlank()) {
            throw new IllegalArgumentException("type must not be null or blank (event " + eventId + ")");
        }
        if (data == null) {
            throw new IllegalArgumentException("data must not be null (event " + eventId + ", type " + type + ")");
        }
        Utf8.requireEncodable(type, "type of event", eventId);
        data = data.clone();
        metadata = hasNoNulls(metadata) ? immutable(metadata) : Metadata.copyOf(metadata, "event " + eventId);
        for (Map.Entry<String, String> entry : metadata.entrySet()) {
            Utf8.requireEncodable(entry.getKey(), "metadata key of event", eventId);
            Utf8.requireEncodable(entry.getValue(), "metadata value of event", eventId);
        }
    }

    /** Whether the metadata can be kept as it is checked (the error message is only built when it cannot). */
    static boolean hasNoNulls(Map<String, String> metadata) {
        if (metadata == null) {
            return true;
        }
        for (Map.Entry<String, String> entry : metadata.entrySet()) {
            if (entry.getKey() == null || entry.getValue() == null) {
                return false;
            }
        }
        return true;
    }

    /** An immutable copy of null-free metadata; the map itself when it is already immutable. */
    static Map<String, String> immutable(Map<String, String> metadata) {
        return metadata == null || metadata.isEmpty() ? Map.of() : Map.copyOf(metadata);
    }

    /**
     * An event with a new time-ordered id (see {@link #newEventId()}); {@code metadata} may be null for none.
     *
     * @throws IllegalArgumentException as the constructor does
     */
    public static EventData of(String type, byte[] data, Map<String, String> metadata) {
        return new EventData(newEventId(), type, data, metadata);
    }

    /**
     * A new random event id, time-ordered (UUID version 7: 48 bits of milliseconds, 74 random bits),
     * so ids made in different milliseconds sort in the order they were made and index well; within
     * one millisecond their order is random. Cheap enough to call per event.
     */
    public static UUID newEventId() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long msb = (System.currentTimeMillis() << 16) | 0x7000L | (random.nextLong() & 0x0FFFL);
        long lsb = (random.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
        return new UUID(msb, lsb);
    }

    /** A copy of the serialized event. */
    @Override
    public byte[] data() {
        return data.clone();
    }

    /** The body without a copy, for records in this package that copy it themselves. */
    byte[] rawData() {
        return data;
    }

    /**
     * Checks the events argument of an append: not null, not empty, no null element.
     *
     * @throws IllegalArgumentException naming the stream when the list is unusable, or when the stream id
     *                                  is null or blank
     */
    public static List<EventData> requireBatch(String streamId, List<EventData> events) {
        StreamName.requirePresent(streamId);
        if (events == null || events.isEmpty()) {
            throw new IllegalArgumentException("events to append to stream '" + streamId
                    + "' must not be null or empty, was " + events);
        }
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i) == null) {
                throw new IllegalArgumentException("events[" + i + "] to append to stream '" + streamId + "' is null");
            }
        }
        return events;
    }

    /**
     * Checks that no event id repeats within a batch, for stores to call after their other checks of an
     * append (the arguments, being open): such a batch could never be appended, so every store refuses it
     * as a duplicate whatever the stream's version, never as a conflict a retry could mend.
     *
     * @throws IllegalArgumentException  as {@link #requireBatch} does
     * @throws DuplicateEventIdException naming the stream and the first id that repeats
     */
    public static void requireDistinctIds(String streamId, List<EventData> events) {
        requireBatch(streamId, events);
        if (events.size() < 2) {
            return;
        }
        Set<UUID> seen = new HashSet<>();
        for (EventData event : events) {
            if (!seen.add(event.eventId())) {
                throw new DuplicateEventIdException(streamId, event.eventId());
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EventData other
                && eventId.equals(other.eventId)
                && type.equals(other.type)
                && Arrays.equals(data, other.data)
                && metadata.equals(other.metadata);
    }

    @Override
    public int hashCode() {
        return eventId.hashCode();
    }

    @Override
    public String toString() {
        return "EventData[eventId=" + eventId + ", type=" + type + ", data=" + data.length + " bytes, metadata="
                + metadata + "]";
    }
}
