package dev.flux;

/**
 * Stream names as message-db parses them. A stream id is {@code <category>-<id>}: the category is
 * everything before the first {@code -}, the id everything after it. {@code account-1+2} is in
 * category {@code account} with the compound id {@code 1+2}, whose cardinal id is {@code 1};
 * {@code account:command-5} is in category {@code account:command}. A name without {@code -} is a
 * category by itself.
 */
public final class StreamName {
    private StreamName() {
    }

    /**
     * Builds {@code <category>-<id>}.
     *
     * @throws IllegalArgumentException when either part is null or blank, or the category contains {@code -}
     */
    public static String of(String category, String id) {
        requireCategory(category);
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("id must not be null or blank, was " + quote(id));
        }
        return category + '-' + id;
    }

    /** The category of a stream: the part before the first {@code -}, or the whole name when it has none. */
    public static String category(String streamId) {
        requirePresent(streamId);
        int dash = streamId.indexOf('-');
        return dash < 0 ? streamId : streamId.substring(0, dash);
    }

    /** The id part of a stream: everything after the first {@code -}, or {@code ""} when there is none. */
    public static String id(String streamId) {
        requirePresent(streamId);
        int dash = streamId.indexOf('-');
        return dash < 0 ? "" : streamId.substring(dash + 1);
    }

    /** The first id of a compound id ({@code 1} in {@code account-1+2}): what consumer groups hash. */
    public static String cardinalId(String streamId) {
        String id = id(streamId);
        int plus = id.indexOf('+');
        return plus < 0 ? id : id.substring(0, plus);
    }

    /**
     * Checks a stream id argument.
     *
     * @throws IllegalArgumentException when it is null or blank, or holds a lone surrogate (see {@link Utf8})
     */
    public static String requireStreamId(String streamId) {
        return Utf8.requireEncodable(requirePresent(streamId), "stream id", null);
    }

    /**
     * The null-or-blank part of {@link #requireStreamId}: for splitting a name, and for records made of
     * what a store read back. The text check is for where text goes into a store, once.
     */
    static String requirePresent(String streamId) {
        if (streamId == null || streamId.isBlank()) {
            throw new IllegalArgumentException("streamId must not be null or blank, was " + quote(streamId));
        }
        return streamId;
    }

    /**
     * Checks a category argument.
     *
     * @throws IllegalArgumentException when it is null or blank, contains {@code -} or holds a lone surrogate
     */
    public static String requireCategory(String category) {
        if (category == null || category.isBlank()) {
            throw new IllegalArgumentException("category must not be null or blank, was " + quote(category));
        }
        if (category.indexOf('-') >= 0) {
            throw new IllegalArgumentException("category must not contain '-', was '" + category + "'");
        }
        return Utf8.requireEncodable(category, "category", null);
    }

    private static String quote(String s) {
        return s == null ? "null" : "'" + s + "'";
    }
}
