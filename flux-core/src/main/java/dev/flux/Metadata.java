package dev.flux;

import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * Well-known metadata keys. Metadata is a string map that travels with every event; flux reads the
 * keys below, and anything else is the application's own.
 */
public final class Metadata {
    /**
     * Id of the request or conversation an event belongs to, the same on a cause and its effects. flux sets
     * and copies none of these keys: pass the cause's on (see {@link #causedBy}) when you update, or to a whole
     * save ({@link Aggregate#save(Map)}, {@link Repository#update(String, Map, java.util.function.Consumer)}).
     */
    public static final String CORRELATION_ID = "correlation_id";
    /** Id of the message (command or event) that caused this event. */
    public static final String CAUSATION_ID = "causation_id";
    /** The schema version of the event body, for upcasting; 1 when absent. */
    public static final String SCHEMA_VERSION = "schema_version";

    private Metadata() {
    }

    /**
     * Metadata saying that an event was caused by message {@code causationId} in conversation {@code correlationId}.
     *
     * @throws IllegalArgumentException when either id is null
     */
    public static Map<String, String> causedBy(UUID correlationId, UUID causationId) {
        if (correlationId == null || causationId == null) {
            throw new IllegalArgumentException("correlationId and causationId must not be null, got correlationId="
                    + correlationId + ", causationId=" + causationId);
        }
        return Map.of(CORRELATION_ID, correlationId.toString(), CAUSATION_ID, causationId.toString());
    }

    /**
     * An immutable copy of {@code metadata} that a store can save: no null, no lone surrogate (see {@link Utf8});
     * the messages name {@code owner}.
     */
    static Map<String, String> checkedCopyOf(Map<String, String> metadata, String owner) {
        Map<String, String> checked = copyOf(metadata, owner);
        for (Map.Entry<String, String> entry : checked.entrySet()) {
            Utf8.requireEncodable(entry.getKey(), "metadata key of", owner);
            Utf8.requireEncodable(entry.getValue(), "metadata value of", owner);
        }
        return checked;
    }

    /** {@code under}'s entries with {@code over}'s on top: {@code over} wins where both have a key. */
    static Map<String, String> layered(Map<String, String> under, Map<String, String> over) {
        if (over.isEmpty()) {
            return under;
        }
        if (under.isEmpty()) {
            return over;
        }
        Map<String, String> both = new HashMap<>(under);
        both.putAll(over);
        return Map.copyOf(both);
    }

    static Map<String, String> copyOf(Map<String, String> metadata, String owner) {
        if (metadata == null || metadata.isEmpty()) {
            return Map.of();
        }
        for (Map.Entry<String, String> entry : metadata.entrySet()) {
            if (entry.getKey() == null || entry.getValue() == null) {
                throw new IllegalArgumentException("metadata of " + owner + " must not hold nulls, had "
                        + entry.getKey() + "=" + entry.getValue());
            }
        }
        return Map.copyOf(metadata);
    }
}
