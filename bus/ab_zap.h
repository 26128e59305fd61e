/*  ab_zap - the process's ZAP handler (RFC 27): CURVE keys from the keyring
    libzmq asks the handler bound at inproc://zeromq.zap.01 whether a peer
    may complete its handshake with a CURVE server socket. Ours says yes
    (200) only to mechanism CURVE with a client public key that is active in
    the cluster key directory, and sets the ZAP User-Id to that key in Z85
    (40 chars), so a server reads it back per message with
    zmq_msg_gets (msg, "User-Id") and asks ab_keyring_lookup. Everything
    else (NULL, PLAIN, unknown or revoked keys) gets 400.

    Rules of the API:
    - There is one handler per process (one inproc endpoint per context).
      ab_zap_new shares it: every handle on the same key directory counts as
      a reference, and the handler stops when the last handle is destroyed.
      Asking for a different directory while one runs is AB_E_EXISTS.
    - Create the handle BEFORE binding any CURVE server socket: libzmq lets
      a CURVE client in unauthenticated when no handler is bound.
    - The handler rereads the key directory on every request, so a revoked
      key cannot start a new session.                                       */
#ifndef AB_ZAP_H
#define AB_ZAP_H

#include "ab_error.h"
#include <czmq.h>

typedef struct _ab_zap_t ab_zap_t;

//  Start (or share) the handler for keys_dir. NULL and *err on failure:
//  unreadable key directory, another handler on a different directory, or
//  inproc://zeromq.zap.01 taken by someone else (e.g. CZMQ's zauth).
ab_zap_t *ab_zap_new (const char *keys_dir, ab_error_t **err);

//  Drop this handle; stop the handler with the last one. Safe on NULL.
void ab_zap_destroy (ab_zap_t **self_p);

//  Counts since the handler started: requests accepted and denied.
void ab_zap_counts (ab_zap_t *self, uint64_t *accepted, uint64_t *denied);

//  Log each decision with zsys_info (all handles share the setting).
void ab_zap_set_verbose (ab_zap_t *self, bool verbose);

void ab_zap_test (bool verbose);

#endif
