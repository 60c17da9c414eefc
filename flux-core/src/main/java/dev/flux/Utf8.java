package dev.flux;

/**
 * The check every store's text passes: stream ids, event types, metadata and subscription names must
 * be valid Unicode, that is hold no lone UTF-16 surrogate. Stores keep text as UTF-8, which has no
 * encoding for one; Java's encoder (and so the Xodus store's keys and the MongoDB driver's BSON)
 * writes {@code ?} or U+FFFD in its place, which would silently store a different stream id, and two
 * ids differing only there would share a stream. Every store refuses such text up front instead,
 * the in-memory one too, so that what works in tests works in production.
 */
public final class Utf8 {
    private Utf8() {
    }

    /**
     * Returns {@code text} when UTF-8 can hold it.
     *
     * @param text  the text to check, not null
     * @param what  what the text is, for the message ("stream id", "type of event"), not null
     * @param owner what follows {@code what} in the message (an event id), or null
     * @throws IllegalArgumentException naming {@code what}, the text and the index of the first lone surrogate;
     *                                  or when {@code text} or {@code what} is null
     */
    public static String requireEncodable(String text, String what, Object owner) {
        if (what == null) {
            throw new IllegalArgumentException("what (the name of the text, for messages) must not be null");
        }
        if (text == null) {
            throw new IllegalArgumentException("text to check as " + what + (owner == null ? "" : " " + owner)
                    + " must not be null");
        }
        for (int i = 0, n = text.length(); i < n; i++) {
            char c = text.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                } else {
                    throw new IllegalArgumentException(what + (owner == null ? "" : " " + owner) + " '" + text
                            + "' holds a lone surrogate \\u" + Integer.toHexString(c).toUpperCase() + " at index " + i
                            + ", which UTF-8 cannot store");
                }
            }
        }
        return text;
    }
}
