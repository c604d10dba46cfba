/* SPDX-License-Identifier: MIT */
/*
 * tls_sess.c - session resumption: the server's session cache and ticket
 * keys (fixed ones stay valid across restarts and nodes), and the client's
 * store of the last session per backend target (struct tls_svc.slots,
 * under its mutex: several workers serve the same service).
 */
#include "tls.h"
#include "tls_int.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* ---- sessions and tickets ------------------------------------------- */

/* The keys for SSL: those of the section SNI chose, else the primary's. */
static struct tls_svc *ticket_keys_for(SSL *ssl)
{
	struct tls_svc *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_idx);
	struct tls_conn *c;

	if (t && t->magic == TLS_SVC_MAGIC && t->has_ticket_keys)
		return t;
	c = conn_get(ssl);
	t = c ? svc_tls(c->svc) : NULL;
	return t && t->has_ticket_keys ? t : NULL;
}

/*
 * Tickets sealed with fixed keys (AES-CBC + HMAC-SHA256), so that they
 * stay valid across restarts and nodes. Returns 1 to use the keys, 0 for
 * an unknown key name (full handshake, new ticket), -1 on error.
 */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
		     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_svc *t = ticket_keys_for(ssl);
	const EVP_CIPHER *cipher;
	OSSL_PARAM params[3];

	if (!t)
		return -1;
	cipher = t->ticket_key_len == 32 ? EVP_aes_256_cbc() :
		 EVP_aes_128_cbc();
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
				t->ticket_mac, (size_t)t->ticket_mac_len);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();

	if (enc) {
		memcpy(name, t->ticket_name, TICKET_NAME_LEN);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1 ||
		    !EVP_EncryptInit_ex(cctx, cipher, NULL, t->ticket_key, iv) ||
		    !EVP_MAC_CTX_set_params(hctx, params))
			return -1;
		return 1;
	}
	if (memcmp(name, t->ticket_name, TICKET_NAME_LEN))
		return 0;
	if (!EVP_DecryptInit_ex(cctx, cipher, NULL, t->ticket_key, iv) ||
	    !EVP_MAC_CTX_set_params(hctx, params))
		return -1;
	return 1;
}

static int setup_ticket_keys(struct init_ctx *ic, struct service *svc,
			     struct tls_svc *t)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[64];
	int child_keys = 0, ok;
	char why[256];
	size_t i;

	for (i = 0; i < svc->n_sni_children; i++)
		child_keys |= svc->sni_children[i]->ticket_key_len > 0;
	if (!svc->ticket_key_len && !svc->ticket_mac_len) {
		/* Tickets are decrypted with the primary's callback: give it
		 * random keys when only its secondaries have fixed ones. */
		if (!child_keys)
			return 0;
		t->ticket_key_len = t->ticket_mac_len = 32;
		if (RAND_bytes(t->ticket_key, 32) != 1 ||
		    RAND_bytes(t->ticket_mac, 32) != 1 ||
		    RAND_bytes(t->ticket_name, TICKET_NAME_LEN) != 1)
			goto fail;
		goto install;
	}
	if ((svc->ticket_key_len != 16 && svc->ticket_key_len != 32) ||
	    svc->ticket_mac_len < 16 || svc->ticket_mac_len > 32) {
		report_at(ic, svc, &svc->at,
			  "ticketKeySecret (16 or 32 bytes) and ticketMacSecret (16 to 32 bytes) must be set together");
		return -1;
	}
	t->ticket_key_len = svc->ticket_key_len;
	t->ticket_mac_len = svc->ticket_mac_len;
	memcpy(t->ticket_key, svc->ticket_key, (size_t)t->ticket_key_len);
	memcpy(t->ticket_mac, svc->ticket_mac, (size_t)t->ticket_mac_len);
	/* The key name follows from the keys, so restarts agree on it. */
	memcpy(buf, t->ticket_key, (size_t)t->ticket_key_len);
	memcpy(buf + t->ticket_key_len, t->ticket_mac,
	       (size_t)t->ticket_mac_len);
	ok = EVP_Digest(buf, (size_t)(t->ticket_key_len + t->ticket_mac_len),
			md, NULL, EVP_sha256(), NULL);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (!ok)
		goto fail;
	memcpy(t->ticket_name, md, TICKET_NAME_LEN);
install:
	t->has_ticket_keys = 1;
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(t->ctx, ticket_cb) != 1)
		goto fail;
	return 0;
fail:
	report_at(ic, svc, &svc->at, "cannot set up the session ticket keys: %s",
		  ssl_reason(why, sizeof(why)));
	return -1;
}

/*
 * Keep a copy of SESS as the session for TARGET. A copy, because OpenSSL
 * marks the SSL's own session object unresumable when that SSL is freed
 * without a TLS shutdown, which is the rule once kTLS owns the socket.
 */
static void store_session(struct tls_svc *t, const struct addr *target,
			  const SSL_SESSION *sess)
{
	SSL_SESSION *copy = SSL_SESSION_dup(sess), *old;
	struct session_slot *s = NULL;
	size_t i;

	if (!copy)
		return;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n_slots && !s; i++)
		if (addr_equal(&t->slots[i].target, target))
			s = &t->slots[i];
	if (!s && t->n_slots < SESSION_SLOTS) {
		s = &t->slots[t->n_slots++];
	} else if (!s) {
		s = &t->slots[t->next_evict];
		t->next_evict = (t->next_evict + 1) % SESSION_SLOTS;
	}
	old = s->sess;
	s->target = *target;
	s->sess = copy;
	pthread_mutex_unlock(&t->lock);
	SSL_SESSION_free(old);
}

void resume_session(struct tls_svc *t, SSL *ssl, const struct addr *target)
{
	size_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n_slots; i++) {
		if (!addr_equal(&t->slots[i].target, target))
			continue;
		if (t->slots[i].sess &&
		    SSL_SESSION_is_resumable(t->slots[i].sess))
			SSL_set_session(ssl, t->slots[i].sess);
		break;
	}
	pthread_mutex_unlock(&t->lock);
}

/* Client mode: TLS 1.3 tickets arrive after the handshake. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *c = conn_get(ssl);
	struct tls_svc *t = c ? svc_tls(c->svc) : NULL;

	if (t && c->has_target && c->svc->session_resume)
		store_session(t, &c->target, sess);
	return 0;	/* the reference stays with OpenSSL */
}

int setup_sessions(struct init_ctx *ic, struct service *svc,
		   struct tls_svc *t)
{
	unsigned char sid[SHA256_DIGEST_LENGTH];
	SSL_CTX *ctx = t->ctx;

	if (svc->client) {
		if (!svc->session_resume) {
			SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
			return 0;
		}
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					       SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
		return 0;
	}

	/* Per service, stable across restarts: a session (or ticket) of
	 * one section never resumes in another, so requireCert holds. */
	if (!EVP_Digest(svc->name, strlen(svc->name), sid, NULL, EVP_sha256(),
			NULL) ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid)) != 1) {
		report_at(ic, svc, &svc->at, "cannot set the session id context");
		return -1;
	}
	if (!svc->session_resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return 0;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, svc->session_cache_size);
	if (svc->session_cache_timeout > 0)
		SSL_CTX_set_timeout(ctx, svc->session_cache_timeout);
	return setup_ticket_keys(ic, svc, t);
}

void tls_conn_save_session(SSL *ssl, const struct addr *target)
{
	struct tls_conn *c = conn_get(ssl);
	struct tls_svc *t = c ? svc_tls(c->svc) : NULL;
	const SSL_SESSION *sess;

	if (!t || !target || !c->svc->client || !c->svc->session_resume)
		return;
	sess = SSL_get0_session(ssl);
	/* A TLS 1.3 session only becomes resumable with its ticket, which
	 * new_session_cb() stores; do not overwrite a good one. */
	if (sess && SSL_SESSION_is_resumable(sess))
		store_session(t, target, sess);
}
