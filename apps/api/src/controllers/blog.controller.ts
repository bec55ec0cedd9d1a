import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { UserEntity } from '../domain/entities.js';
import { BlogListDto, BlogDto, BlogSnapshotDto, BlogUpdateDto, CreateBlogDto, toBlogDto, toBlogUpdateDto, UpdateBodyDto } from '../dtos/blog.dto.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { AuthService, SESSION_COOKIE } from '../services/auth.service.js';
import { BlogService } from '../services/blog.service.js';
import { EventStreamResponder } from './event-stream.responder.js';

const id = () => new ParseIntPipe({ errorHttpStatusCode: 404 });

/** Live blogs: reading is public, writing is the owner's, following needs a session. */
@ApiTags('blogs')
@Controller('api/blogs')
export class BlogController {
  constructor(
    private readonly blogs: BlogService,
    private readonly auth: AuthService,
    private readonly responder: EventStreamResponder,
  ) {}

  @Post()
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiCreatedResponse({ type: BlogDto })
  async create(@CurrentUser() user: UserEntity, @Body() body: CreateBlogDto): Promise<BlogDto> {
    return toBlogDto(await this.blogs.create(user, body.title), false);
  }

  @Get()
  @ApiOkResponse({ type: BlogListDto })
  async list(@Req() req: Request): Promise<BlogListDto> {
    const user = await this.auth.authenticate(req.headers.cookie);
    const blogs = await this.blogs.list();
    return { blogs: await Promise.all(blogs.map(async (b) => toBlogDto(b, user ? await this.blogs.isFollowing(b.id, user.id) : false))) };
  }

  @Get(':id')
  @ApiOkResponse({ type: BlogSnapshotDto })
  async get(@Param('id', id()) blogId: number, @Req() req: Request): Promise<BlogSnapshotDto> {
    const user = await this.auth.authenticate(req.headers.cookie);
    const { blog, updates, lastEventId } = await this.blogs.snapshot(blogId);
    const following = user ? await this.blogs.isFollowing(blog.id, user.id) : false;
    return { blog: toBlogDto(blog, following), updates: updates.map(toBlogUpdateDto), lastEventId };
  }

  /** The blog's log as an event stream with plain ids. Public. */
  @Get(':id/stream')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'text/event-stream of update, update-edited, update-deleted, blog-followers, blog-ended' })
  stream(@Param('id') _id: string, @Req() req: Request, @Res() res: Response): void {
    // Served below Express (EventStreamResponder.serve); here for the OpenAPI document.
    this.responder.serve(req, res);
  }

  @Post(':id/updates')
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiCreatedResponse({ type: BlogUpdateDto })
  async post(@CurrentUser() user: UserEntity, @Param('id', id()) blogId: number, @Body() body: UpdateBodyDto): Promise<BlogUpdateDto> {
    return toBlogUpdateDto(await this.blogs.post(user, blogId, body.body));
  }

  @Patch(':id/updates/:updateId')
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiOkResponse({ type: BlogUpdateDto })
  async edit(
    @CurrentUser() user: UserEntity,
    @Param('id', id()) blogId: number,
    @Param('updateId', id()) updateId: number,
    @Body() body: UpdateBodyDto,
  ): Promise<BlogUpdateDto> {
    return toBlogUpdateDto(await this.blogs.edit(user, blogId, updateId, body.body));
  }

  @Delete(':id/updates/:updateId')
  @HttpCode(204)
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiNoContentResponse()
  async remove(@CurrentUser() user: UserEntity, @Param('id', id()) blogId: number, @Param('updateId', id()) updateId: number): Promise<void> {
    await this.blogs.deleteUpdate(user, blogId, updateId);
  }

  @Post(':id/end')
  @HttpCode(200)
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  @ApiOkResponse({ type: BlogDto })
  async end(@CurrentUser() user: UserEntity, @Param('id', id()) blogId: number): Promise<BlogDto> {
    return toBlogDto(await this.blogs.end(user, blogId), await this.blogs.isFollowing(blogId, user.id));
  }

  @Post(':id/follow')
  @HttpCode(204)
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  async follow(@CurrentUser() user: UserEntity, @Param('id', id()) blogId: number): Promise<void> {
    await this.blogs.follow(user, blogId, true);
  }

  @Delete(':id/follow')
  @HttpCode(204)
  @UseGuards(AuthGuard)
  @ApiCookieAuth(SESSION_COOKIE)
  async unfollow(@CurrentUser() user: UserEntity, @Param('id', id()) blogId: number): Promise<void> {
    await this.blogs.follow(user, blogId, false);
  }
}
