CREATE TABLE `app_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`scopes` text NOT NULL,
	`secret_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`revoked_at` integer,
	`last_used_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `app_keys_secret_hash_unique` ON `app_keys` (`secret_hash`);--> statement-breakpoint
CREATE TABLE `channel_bans` (
	`channel_id` text NOT NULL,
	`subject` text NOT NULL,
	`banned_by` text NOT NULL,
	`reason` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`channel_id`, `subject`),
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `channel_members` (
	`channel_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`permissions` integer NOT NULL,
	`joined_at` integer NOT NULL,
	PRIMARY KEY(`channel_id`, `user_id`),
	FOREIGN KEY (`channel_id`) REFERENCES `channels`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "channel_members_role_known" CHECK("channel_members"."role" IN ('owner', 'admin', 'member'))
);
--> statement-breakpoint
CREATE INDEX `channel_members_user_id` ON `channel_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `channels` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`visibility` text NOT NULL,
	`owner_id` text,
	`member_limit` integer NOT NULL,
	`region` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "channels_visibility_known" CHECK("channels"."visibility" IN ('open', 'private')),
	CONSTRAINT "channels_member_limit_positive" CHECK("channels"."member_limit" > 0)
);
--> statement-breakpoint
CREATE INDEX `channels_owner_id` ON `channels` (`owner_id`);--> statement-breakpoint
CREATE INDEX `channels_created_at_id` ON `channels` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `channels_visibility_created_at_id` ON `channels` (`visibility`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `login_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`last_refreshed_at` integer,
	`revoked_at` integer,
	`revoke_reason` text,
	`user_agent` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `login_sessions_user_id` ON `login_sessions` (`user_id`);--> statement-breakpoint
CREATE TABLE `refresh_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`generation` integer NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	FOREIGN KEY (`session_id`) REFERENCES `login_sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `refresh_tokens_session_generation_unique` ON `refresh_tokens` (`session_id`,`generation`);--> statement-breakpoint
CREATE TABLE `relay_request_nonces` (
	`nonce` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `relay_request_nonces_expires_at` ON `relay_request_nonces` (`expires_at`);--> statement-breakpoint
CREATE TABLE `relays` (
	`id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`public_key` text NOT NULL,
	`boot_id` text NOT NULL,
	`udp_endpoints` text NOT NULL,
	`sessions` integer NOT NULL,
	`channels` integer NOT NULL,
	`draining` integer NOT NULL,
	`control_key_id` text NOT NULL,
	`registered_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`api_url` text
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`username_key` text NOT NULL,
	`password_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`password_changed_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_key_unique` ON `users` (`username_key`);--> statement-breakpoint
CREATE TABLE `voice_logins` (
	`login_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`login_id`, `channel_id`)
);
--> statement-breakpoint
CREATE TABLE `voice_ssrcs` (
	`relay_id` text NOT NULL,
	`boot_id` text NOT NULL,
	`ssrc` integer NOT NULL,
	`session_id` text NOT NULL,
	`channel_id` text NOT NULL,
	`allocated_at` integer NOT NULL,
	`released_at` integer,
	PRIMARY KEY(`relay_id`, `boot_id`, `ssrc`),
	CONSTRAINT "voice_ssrcs_ssrc_uint32" CHECK("voice_ssrcs"."ssrc" BETWEEN 0 AND 4294967295)
);
--> statement-breakpoint
CREATE INDEX `voice_ssrcs_session_id` ON `voice_ssrcs` (`session_id`);--> statement-breakpoint
CREATE INDEX `voice_ssrcs_released_at` ON `voice_ssrcs` (`released_at`);