// Command room is the aws-sdk-go-v2 example: a logging configuration, a room that logs to it,
// and a chat token for one user, then it deletes what it made.
//
//	export AWS_ACCESS_KEY_ID=ivschatd-dev AWS_SECRET_ACCESS_KEY=ivschatd-dev-secret AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
//	go run ./examples/go/room
//
// IVSCHAT_ENDPOINT names the server (default http://127.0.0.1:8080).
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ivschat"
	"github.com/aws/aws-sdk-go-v2/service/ivschat/types"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	endpoint := os.Getenv("IVSCHAT_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:8080"
	}

	// Credentials and region come from the environment, as for AWS itself.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	client := ivschat.NewFromConfig(cfg, func(o *ivschat.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})

	logging, err := client.CreateLoggingConfiguration(ctx, &ivschat.CreateLoggingConfigurationInput{
		Name: aws.String("demo-logs"),
		DestinationConfiguration: &types.DestinationConfigurationMemberS3{
			Value: types.S3DestinationConfiguration{BucketName: aws.String("demo-chat-logs")},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logging configuration", *logging.Arn, logging.State)

	room, err := client.CreateRoom(ctx, &ivschat.CreateRoomInput{
		Name:                            aws.String("demo"),
		LoggingConfigurationIdentifiers: []string{*logging.Arn},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("room", *room.Arn)

	token, err := client.CreateChatToken(ctx, &ivschat.CreateChatTokenInput{
		RoomIdentifier: room.Arn,
		UserId:         aws.String("alice"),
		Capabilities:   []types.ChatTokenCapability{types.ChatTokenCapabilitySendMessage},
		Attributes:     map[string]string{"displayName": "Alice"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token for alice, usable until", token.TokenExpirationTime.Format(time.RFC3339))

	if _, err := client.DeleteRoom(ctx, &ivschat.DeleteRoomInput{Identifier: room.Arn}); err != nil {
		log.Fatal(err)
	}
	if _, err := client.DeleteLoggingConfiguration(ctx, &ivschat.DeleteLoggingConfigurationInput{Identifier: logging.Arn}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted the room and the logging configuration")
}
