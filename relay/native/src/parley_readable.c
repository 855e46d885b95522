/*
 * parley_readable: calls a JS function whenever a file descriptor has something to read, from
 * the event loop of the thread that asked (a libuv poll handle), so the relay can read its UDP
 * socket with recvmmsg (parley_udp.c) in bursts instead of one node:dgram 'message' at a time.
 *
 * JS surface (relay/src/io/native-udp.ts wraps it; relay/src/io/udp-transport.ts is the only user):
 *   watchReadable(fd, onReadable): { close(): void }
 *     fd          an open socket; the watcher polls its own dup(2) of it, so the caller's fd
 *                 may also sit in the same event loop under another handle (a node:dgram
 *                 socket's, whose reading the caller has stopped): epoll tells the two apart.
 *     onReadable  called with (status): 0 when fd is readable, a negative libuv error code
 *                 when polling failed. It should read until nothing is waiting (epoll is
 *                 level-triggered here: whatever is left calls it again on the next loop turn).
 *                 An exception it throws is the process's uncaught exception, as from any event.
 *     close()     stops the watcher and closes its dup'd fd, before it returns. Idempotent.
 *                 Until close() the watcher keeps the event loop alive.
 *     restart()   polls again after an error: libuv stops a poll handle when poll(2) reports
 *                 POLLERR (it calls back once with UV_EBADF and then never again), so without
 *                 this the socket would silently stop being read. Returns 0, or a negative
 *                 libuv error; a no-op (0) after close().
 *
 * Lifetime: the struct is freed when both the libuv handle has closed and the JS object has let
 * go of it (close(), or its finalizer). The handle closes on close(), on the JS object's
 * finalizer, or when the environment tears down (a worker thread exiting, the process exiting):
 * an async cleanup hook closes it there, so the thread's loop can close cleanly.
 */
#define _GNU_SOURCE /* F_DUPFD_CLOEXEC */

#include "parley_readable.h"
#include "parley_napi.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup_hook;
  int fd;
  bool closing;
  bool handle_closed;
  bool wrapper_released;
  /* Set when the environment is going away: no more JS calls, and no N-API calls that need it. */
  bool env_teardown;
} Watch;

static void free_if_done(Watch *watch) {
  if (watch->handle_closed && watch->wrapper_released) free(watch);
}

static void on_handle_closed(uv_handle_t *handle) {
  Watch *watch = handle->data;
  if (watch->cleanup_hook != NULL) {
    napi_async_cleanup_hook_handle hook = watch->cleanup_hook;
    watch->cleanup_hook = NULL;
    napi_remove_async_cleanup_hook(hook);
  }
  watch->handle_closed = true;
  free_if_done(watch);
}

/* Stops polling and releases the JS callback; the fd closes with the handle. */
static void start_closing(Watch *watch) {
  if (watch->closing) return;
  watch->closing = true;
  uv_poll_stop(&watch->poll);
  if (!watch->env_teardown) {
    napi_delete_reference(watch->env, watch->callback);
    napi_async_destroy(watch->env, watch->async_context);
  }
  watch->callback = NULL;
  watch->async_context = NULL;
  uv_close((uv_handle_t *)&watch->poll, on_handle_closed);
  /* libuv is done with the fd once uv_close returns (it has left epoll; a poll handle never
   * owns its fd). Closing it now, not in the close callback a loop turn later, means that when
   * the caller then closes its own socket, the port is free at once. */
  close(watch->fd);
  watch->fd = -1;
}

static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *data) {
  (void)hook;
  Watch *watch = data;
  watch->env_teardown = true;
  start_closing(watch);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  Watch *watch = handle->data;
  if (watch->closing) return;
  napi_env env = watch->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argument, result;
  /* The receiver must be an object (napi_make_callback converts it with ToObject). */
  if (napi_get_reference_value(env, watch->callback, &callback) == napi_ok && napi_get_global(env, &receiver) == napi_ok &&
      napi_create_int32(env, status, &argument) == napi_ok) {
    /* napi_make_callback, not napi_call_function: we are in a libuv callback, outside any JS
     * frame, so this must run the microtask and nextTick queues afterwards, like any event. */
    if (napi_make_callback(env, watch->async_context, receiver, callback, 1, &argument, &result) == napi_pending_exception) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void finalize_watch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Watch *watch = data;
  watch->wrapper_released = true;
  if (!watch->closing) start_closing(watch);
  free_if_done(watch);
}

/* close(): this is the object watchReadable returned. */
static napi_value watch_close(napi_env env, napi_callback_info info) {
  napi_value self;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  void *data = NULL;
  /* Already closed: the wrap is gone and there is nothing to do. */
  if (napi_remove_wrap(env, self, &data) != napi_ok || data == NULL) return NULL;
  Watch *watch = data;
  watch->wrapper_released = true;
  start_closing(watch);
  free_if_done(watch);
  return NULL;
}

/* restart(): uv_poll_start again (see the top of this file). */
static napi_value watch_restart(napi_env env, napi_callback_info info) {
  napi_value self;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  void *data = NULL;
  int status = 0;
  if (napi_unwrap(env, self, &data) == napi_ok && data != NULL) {
    Watch *watch = data;
    if (!watch->closing) status = uv_poll_start(&watch->poll, UV_READABLE, on_poll);
  }
  napi_value result;
  if (napi_create_int32(env, status, &result) != napi_ok) return NULL;
  return result;
}

/* watchReadable(fd, onReadable) — see the top of this file. */
static napi_value watch_readable(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype type;
  int32_t fd = -1;
  if (argc < 2 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    return throw_type(env, "native-readable: fd must be a number");
  }
  if (fd < 0) return throw_range(env, "native-readable: fd must be a file descriptor");
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) return throw_type(env, "native-readable: onReadable must be a function");

  struct uv_loop_s *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  Watch *watch = calloc(1, sizeof *watch);
  if (watch == NULL) {
    napi_throw_error(env, "ERR_MEMORY", "native-readable: out of memory");
    return NULL;
  }
  watch->env = env;
  watch->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (watch->fd < 0) {
    free(watch);
    napi_throw_error(env, "ERR_SYSTEM", "native-readable: cannot duplicate fd");
    return NULL;
  }
  if (uv_poll_init(loop, &watch->poll, watch->fd) != 0) {
    close(watch->fd);
    free(watch);
    napi_throw_error(env, "ERR_SYSTEM", "native-readable: fd cannot be polled");
    return NULL;
  }
  watch->poll.data = watch;

  napi_value object, close_fn, restart_fn, resource_name;
  if (napi_create_object(env, &object) != napi_ok || napi_create_function(env, "close", NAPI_AUTO_LENGTH, watch_close, NULL, &close_fn) != napi_ok ||
      napi_set_named_property(env, object, "close", close_fn) != napi_ok ||
      napi_create_function(env, "restart", NAPI_AUTO_LENGTH, watch_restart, NULL, &restart_fn) != napi_ok ||
      napi_set_named_property(env, object, "restart", restart_fn) != napi_ok ||
      napi_create_string_utf8(env, "parley:readable", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &watch->callback) != napi_ok ||
      napi_async_init(env, object, resource_name, &watch->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, watch, &watch->cleanup_hook) != napi_ok ||
      napi_wrap(env, object, watch, finalize_watch, NULL, NULL) != napi_ok) {
    /* The handle exists: it must be closed through the loop, which then frees the struct. */
    if (watch->callback != NULL) napi_delete_reference(env, watch->callback);
    if (watch->async_context != NULL) napi_async_destroy(env, watch->async_context);
    watch->callback = NULL;
    watch->async_context = NULL;
    watch->env_teardown = true; /* nothing left to release through N-API */
    watch->wrapper_released = true;
    start_closing(watch);
    return NULL;
  }
  if (uv_poll_start(&watch->poll, UV_READABLE, on_poll) != 0) {
    napi_value ignored;
    napi_call_function(env, object, close_fn, 0, NULL, &ignored);
    napi_throw_error(env, "ERR_SYSTEM", "native-readable: cannot start polling fd");
    return NULL;
  }
  return object;
}

int parley_readable_export(napi_env env, napi_value exports) {
  napi_value watch;
  if (napi_create_function(env, "watchReadable", NAPI_AUTO_LENGTH, watch_readable, NULL, &watch) != napi_ok) return 0;
  return napi_set_named_property(env, exports, "watchReadable", watch) == napi_ok;
}
