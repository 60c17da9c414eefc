package dev.flux.serialization;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What an upcaster makes of a stored event: its JSON at the next schema version, under the type name
 * it now has (the same, or a new one when the type was renamed or split).
 *
 * @param type the type name at the next version
 * @param data the JSON at the next version
 */
public record Upcasted(String type, ObjectNode data) {
    /** @throws IllegalArgumentException when the type is null or blank, or the data is null */
    public Upcasted {
        if (type == null || type.isBlank() || data == null) {
            throw new IllegalArgumentException("an upcaster must give a type name and a JSON object as data, gave type "
                    + (type == null ? "null" : "'" + type + "'") + " and data " + data);
        }
    }
}
