package dev.flux.test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** Runs a contract's calls each from a thread whose interrupt flag is set, for the contracts' interrupt tests. */
final class InterruptedCalls {
    private InterruptedCalls() {
    }

    /**
     * Each call's answer, in order, made with the interrupt flag set as an executor's {@code shutdownNow}
     * leaves a task it reached: what it returned, the exception it threw as text, or, when it cleared the
     * flag, {@code "the interrupt flag was cleared"}. The flag is clear again afterwards.
     */
    static Map<String, Object> answers(Map<String, Callable<Object>> calls) {
        Map<String, Object> answered = new LinkedHashMap<>();
        for (Map.Entry<String, Callable<Object>> call : calls.entrySet()) {
            Thread.currentThread().interrupt();
            Object answer;
            try {
                answer = call.getValue().call();
            } catch (Exception e) {
                answer = e.toString();
            } finally {
                if (!Thread.interrupted()) {
                    answer = "the interrupt flag was cleared";
                }
            }
            answered.put(call.getKey(), answer);
        }
        return answered;
    }
}
