package dev.flux.memory;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * One run of a whole store contract (a concrete subclass of one of flux-test's contracts) through the
 * JUnit launcher, as a user's build runs it: which of its tests failed, with why, which of those ran
 * out of time, and how many passed. For the tests that check the contracts fail for broken stores.
 */
record ContractRun(List<String> failed, List<String> timedOut, int passed) {

    static ContractRun of(Class<?> contract) {
        List<String> failed = new ArrayList<>();
        List<String> timedOut = new ArrayList<>();
        int[] passed = {0};
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(contract))
                // A store reading the same page for ever would hang a test without a limit of its own.
                .configurationParameter("junit.jupiter.execution.timeout.default", "20 s")
                .build();
        LauncherFactory.create().execute(request, new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier test, TestExecutionResult result) {
                if (!test.isTest()) {
                    return;
                }
                if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                    passed[0]++;
                } else if (result.getStatus() == TestExecutionResult.Status.FAILED) {
                    failed.add(test.getDisplayName() + ": " + result.getThrowable().map(Throwable::getMessage).orElse(""));
                    if (result.getThrowable().orElse(null) instanceof TimeoutException) {
                        timedOut.add(test.getDisplayName());
                    }
                }
            }
        });
        return new ContractRun(List.copyOf(failed), List.copyOf(timedOut), passed[0]);
    }

    /** Fails unless the contract failed {@code store}, each failure an assertion naming what is wrong, not a time limit. */
    void assertCaught(String store) {
        assertFalse(failed.isEmpty(), "the contract passed " + store + " (" + passed + " tests passed)");
        assertEquals(List.of(), timedOut, "the contract names what is wrong instead of running out of time");
    }

    /** Fails unless every test of the contract passed, and at least {@code tests} of them ran. */
    void assertPassed(int tests) {
        assertEquals(List.of(), failed);
        assertTrue(passed >= tests, "the whole contract ran: " + passed + " tests passed");
    }
}
