// The "system" side's interface, called across processes by apps. Replies are JSON strings.
package ai.mtpf.demo;

interface IBackboneService {
    /** {"backbone": version, "adapters": [{"name", "task", "version", "labels"}], "refused": {name: why}, "error": why?} */
    String describe();

    /** Runs `adapter` on `text`: {"task", "entities": [{"label","text","start","end","score"}] or
     *  {"label", "probabilities": {label: p}}, "latency_ms", "backbone", "adapter"} or {"error": why}.
     *  start/end are UTF-16 indices into `text` (what Android's spans take). */
    String run(String adapter, String text);
}
