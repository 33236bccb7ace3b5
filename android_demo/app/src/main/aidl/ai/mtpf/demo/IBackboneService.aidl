// The "system" side's interface, called across processes by apps (bind with the action
// ai.mtpf.action.BACKBONE, package ai.mtpf.demo; the caller needs ai.mtpf.permission.USE_BACKBONE).
// Every call is identified by the caller's UID; what it may run is the service's policy.json grants.
package ai.mtpf.demo;

import ai.mtpf.demo.Reply;
import ai.mtpf.demo.ServiceInfo;

interface IBackboneService {
    /** This interface's version; a client built against a newer one checks interfaceVersion() first. */
    const int VERSION = 1;

    // error codes of Reply.error and ServiceInfo.error (ai.mtpf.core.ErrorCode; ServiceTest checks they agree)
    const int ERROR_NONE = 0;
    const int ERROR_NO_SUCH_ADAPTER = 1;
    const int ERROR_ADAPTER_REFUSED = 2;
    const int ERROR_NOT_GRANTED = 3;
    const int ERROR_INPUT_TOO_LONG = 4;
    const int ERROR_QUOTA_EXCEEDED = 5;
    const int ERROR_CANCELLED = 6;
    const int ERROR_SERVICE_CLOSED = 7;
    const int ERROR_RUN_FAILED = 8;
    const int ERROR_BAD_REQUEST = 9;
    const int ERROR_BACKBONE_NOT_LOADED = 10;

    int interfaceVersion();

    /** The backbone, the adapters this caller may run, the refused ones, the limits. */
    ServiceInfo describe();

    /** Runs `adapter` on `text`. `client` is any binder the caller keeps alive for the call (new Binder()):
     *  if the caller's process dies, the service terminates the run (RunOptions.setTerminate). */
    Reply run(IBinder client, String adapter, String text);

    /** Registers an .mtpfa adapter the caller ships (read from `adapter`, at most 16 MiB; `signature`: its
     *  .sig document, or null in a bundle without trust.json); only this caller can run it. Reply.error
     *  is 0 or why it was refused. */
    Reply registerAdapter(String name, in ParcelFileDescriptor adapter, String signature);
}
