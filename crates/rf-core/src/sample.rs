//! A sample workspace for the README's demo: a small coffee roaster planning a
//! holiday campaign, so a new user sees every part of the model filled in.

use rf_domain::{AssetContent, BrandCodex, Campaign, Channel, MoveStatus, Voice, WorkspaceIndex};

use crate::{Core, NewCampaign, NewMove, Result};

impl Core {
    /// Creates the sample workspace with a brand codex, one campaign, moves in
    /// several statuses and one asset, and returns it.
    pub async fn create_sample_workspace(&self) -> Result<(WorkspaceIndex, Campaign)> {
        let workspace = self.create_workspace("Northwind Coffee Roasters").await?;
        let codex = BrandCodex {
            company: "Northwind Coffee Roasters".into(),
            offer: "Small-batch specialty coffee, roasted to order and shipped within 48 hours, \
                    as one-off bags or a monthly subscription."
                .into(),
            audiences: vec!["Home brewers, 25-45, who own a grinder and care about origin".into(), "Office managers ordering for teams of 10-50".into()],
            voice: Voice {
                tone: "warm, plain-spoken, a little wry".into(),
                dos: vec!["name the farm and the roast date".into(), "write like a barista talking to a regular".into()],
                donts: vec!["coffee-snob jargon".into(), "fake urgency".into()],
            },
            banned_terms: vec!["best coffee in the world".into(), "guaranteed".into()],
            required_disclaimers: vec!["Subscriptions renew monthly; cancel any time.".into()],
            disclaimers_by_kind: Default::default(),
            ..BrandCodex::default()
        };
        self.update_brand_codex(workspace.id, codex).await?;
        let campaign = self
            .create_campaign(
                workspace.id,
                NewCampaign {
                    name: "Holiday gift subscriptions".into(),
                    goal: "Sell 400 three-month gift subscriptions between 20 November and 24 December.".into(),
                    channels: vec![Channel::Email, Channel::MetaAds, Channel::GoogleAds, Channel::Blog],
                    budget: Some(rf_domain::Budget { amount_minor: 250_000, currency: "USD".into() }),
                },
            )
            .await?;
        let moves = [
            ("Gift guide blog post: coffee for every kind of brewer", Channel::Blog, MoveStatus::Done),
            ("Email to past customers: give the gift of fresh coffee", Channel::Email, MoveStatus::Review),
            ("Meta carousel: three origins, three gift tiers", Channel::MetaAds, MoveStatus::InProgress),
            ("Search ads on 'coffee subscription gift'", Channel::GoogleAds, MoveStatus::Planned),
        ];
        let mut email_move = None;
        for (title, channel, status) in moves {
            let (move_id, _) =
                self.add_move(campaign.id, NewMove { title: title.into(), channel, owner: Some(self.inner.user.id.clone()), due_date: None }).await?;
            if status != MoveStatus::Planned {
                self.set_move_status(move_id, status).await?;
            }
            if channel == Channel::Email {
                email_move = Some(move_id);
            }
        }
        self.add_asset(
            campaign.id,
            email_move,
            AssetContent::Email {
                subject: "Three months of fresh coffee, wrapped".into(),
                preheader: "Roasted to order, shipped within 48 hours.".into(),
                body: "Know someone who deserves better coffee? A Northwind gift subscription sends \
                       a fresh bag every month for three months.\n\nSubscriptions renew monthly; cancel any time.\n\n\
                       You're receiving this because you bought from Northwind Coffee Roasters.\n\
                       Northwind Coffee Roasters, 14 Harbour Street, Portland, ME 04101\n\
                       Unsubscribe: https://northwind.example/unsubscribe"
                    .into(),
            },
        )
        .await?;
        Ok((self.workspace(workspace.id).await?, self.campaign(campaign.id).await?))
    }
}
