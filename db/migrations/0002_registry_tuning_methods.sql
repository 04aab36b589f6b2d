CREATE TABLE "model_aliases" (
	"name" text NOT NULL,
	"alias" text NOT NULL,
	"version" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_aliases_name_alias_pk" PRIMARY KEY("name","alias")
);
--> statement-breakpoint
CREATE TABLE "model_versions" (
	"name" text NOT NULL,
	"version" integer NOT NULL,
	"run_id" text NOT NULL,
	"dir" text NOT NULL,
	"card" jsonb NOT NULL,
	"mlflow_version" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_versions_name_version_pk" PRIMARY KEY("name","version")
);
--> statement-breakpoint
CREATE TABLE "tuning_results" (
	"run_id" text NOT NULL,
	"setting" text NOT NULL,
	"params" jsonb NOT NULL,
	"aji" double precision NOT NULL,
	"dice" double precision NOT NULL,
	"f1" double precision NOT NULL,
	"images" integer NOT NULL,
	"chosen" boolean DEFAULT false NOT NULL,
	CONSTRAINT "tuning_results_run_id_setting_pk" PRIMARY KEY("run_id","setting")
);
--> statement-breakpoint
ALTER TABLE "image_results" ADD COLUMN "method" text DEFAULT 'two-stage' NOT NULL;--> statement-breakpoint
ALTER TABLE "image_results" DROP CONSTRAINT "image_results_run_id_image_pk";--> statement-breakpoint
ALTER TABLE "image_results" ADD CONSTRAINT "image_results_run_id_method_image_pk" PRIMARY KEY("run_id","method","image");--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "trained" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tuning_results" ADD CONSTRAINT "tuning_results_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "model_versions_run_idx" ON "model_versions" USING btree ("name","run_id");