package dev.flux;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StreamNameTest {

    @Test
    void theCategoryIsThePartBeforeTheFirstDash() {
        assertEquals("account", StreamName.category("account-1"));
        assertEquals("account", StreamName.category("account-1+2"));
        assertEquals("account", StreamName.category("account-7-x"));
        assertEquals("account:command", StreamName.category("account:command-5"));
        assertEquals("account", StreamName.category("account"));
    }

    @Test
    void theIdIsEverythingAfterTheFirstDash() {
        assertEquals("1+2", StreamName.id("account-1+2"));
        assertEquals("7-x", StreamName.id("account-7-x"));
        assertEquals("", StreamName.id("account"));
    }

    @Test
    void theCardinalIdIsTheFirstPartOfACompoundId() {
        assertEquals("1", StreamName.cardinalId("account-1+2"));
        assertEquals("5", StreamName.cardinalId("account:command-5"));
    }

    @Test
    void ofJoinsCategoryAndIdAndRefusesADashInTheCategory() {
        assertEquals("Account-42", StreamName.of("Account", "42"));
        assertThrows(IllegalArgumentException.class, () -> StreamName.of("bad-category", "1"));
        assertThrows(IllegalArgumentException.class, () -> StreamName.of("Account", " "));
        assertThrows(IllegalArgumentException.class, () -> StreamName.category(null));
    }
}
